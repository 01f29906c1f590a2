// A file descriptor closed when its owner goes: the one closer for the raw
// descriptors (sockets, files opened with open(2)) the code holds.
#pragma once

#include <unistd.h>

#include <utility>

namespace custvault {

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = other.release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  // Hands the descriptor over (to close it and see the error, say).
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace custvault
