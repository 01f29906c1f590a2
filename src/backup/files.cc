#include "backup/files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace custvault::backup {
namespace {

namespace fs = std::filesystem;

Status Io(std::string_view what, const std::string& path) {
  return Internal(std::string(what) + " " + path + ": " + std::strerror(errno));
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Io("cannot write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

std::string ParentDirectory(const std::string& path) {
  std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

Status EnsureDirectory(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return Status::Ok();
  const std::string parent = fs::path(path).parent_path().string();
  if (!parent.empty() && parent != path) RETURN_IF_ERROR(EnsureDirectory(parent));
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return Io("cannot create directory", path);
  return Status::Ok();
}

Status CreateNewDirectory(const std::string& path) {
  const std::string parent = fs::path(path).parent_path().string();
  if (!parent.empty()) RETURN_IF_ERROR(EnsureDirectory(parent));
  if (::mkdir(path.c_str(), 0700) != 0) {
    if (errno == EEXIST) return Conflict("already exists: " + path);
    return Io("cannot create directory", path);
  }
  return Status::Ok();
}

Status FsyncDirectory(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Io("cannot open directory", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Io("cannot fsync directory", path);
  return Status::Ok();
}

Status RenameDurably(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return Io("cannot rename " + from + " to", to);
  return FsyncDirectory(ParentDirectory(to));
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return Internal("cannot remove " + path + ": " + ec.message());
  return Status::Ok();
}

Result<std::vector<std::string>> ListDirectory(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return NotFound("no directory " + path);
  std::vector<std::string> names;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) return Internal("cannot list " + path + ": " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

bool PathExists(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0;
}

Status WriteNewFile(const std::string& path, const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return Conflict("already exists: " + path);
    return Io("cannot create", path);
  }
  Status status = WriteAll(fd, data, path);
  if (status.ok() && ::fsync(fd) != 0) status = Io("cannot fsync", path);
  ::close(fd);
  return status;
}

Result<std::string> ReadWholeFile(const std::string& path, size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("missing: " + path);
    return Io("cannot open", path);
  }
  std::string data;
  char buffer[1 << 16];
  Status status;
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = Io("cannot read", path);
      break;
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
    if (data.size() > max_bytes) {
      status = TooLarge("over the size limit: " + path);
      break;
    }
  }
  ::close(fd);
  if (!status.ok()) return status;
  return data;
}

Status CopyFile(const std::string& from, const std::string& to) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Io("cannot open", from);
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    ::close(in);
    if (errno == EEXIST) return Conflict("already exists: " + to);
    return Io("cannot create", to);
  }
  Status status;
  char buffer[1 << 16];
  while (status.ok()) {
    const ssize_t n = ::read(in, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = Io("cannot read", from);
      break;
    }
    if (n == 0) break;
    status = WriteAll(out, std::string_view(buffer, static_cast<size_t>(n)), to);
  }
  if (status.ok() && ::fsync(out) != 0) status = Io("cannot fsync", to);
  ::close(in);
  ::close(out);
  return status;
}

namespace {
constexpr size_t kLockHolderBytesMax = 64;
bool IsLockHolder(std::string_view text) {
  if (text.empty() || text.size() > kLockHolderBytesMax) return false;
  for (const char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}
}  // namespace

Result<std::unique_ptr<LocationLock>> LocationLock::Acquire(const std::string& directory,
                                                            const std::string& file_name) {
  RETURN_IF_ERROR(EnsureDirectory(directory));
  const std::string path = directory + "/" + file_name;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Io("cannot open lock", path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char holder[kLockHolderBytesMax + 1] = {};
    const ssize_t n = error == EWOULDBLOCK ? ::pread(fd, holder, kLockHolderBytesMax, 0) : -1;
    ::close(fd);
    if (error != EWOULDBLOCK) {
      errno = error;
      return Io("cannot lock", path);
    }
    const std::string running = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "";
    if (!running.empty() && IsLockHolder(running)) {
      return Conflict("another backup is running: " + running + "; retry when it has finished");
    }
    return Conflict("another backup is running; retry when it has finished");
  }
  // A holder that died left its id: clear it (the new holder writes its own).
  if (::ftruncate(fd, 0) != 0) {
    ::close(fd);
    return Io("cannot clear lock", path);
  }
  return std::unique_ptr<LocationLock>(new LocationLock(fd));
}

Status LocationLock::SetHolder(const std::string& what) {
  if (!IsLockHolder(what)) return InvalidArgument("lock holder: not an id");
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, what.data(), what.size(), 0) != static_cast<ssize_t>(what.size())) {
    return Internal(std::string("cannot record the lock holder: ") + std::strerror(errno));
  }
  return Status::Ok();
}

LocationLock::~LocationLock() { ::close(fd_); }

Result<std::unique_ptr<StagingDirectory>> StagingDirectory::Create(std::string path) {
  RETURN_IF_ERROR(CreateNewDirectory(path));
  return std::unique_ptr<StagingDirectory>(new StagingDirectory(std::move(path)));
}

StagingDirectory::~StagingDirectory() {
  if (!keep_) RemoveTree(path_).IgnoreError();
}

}  // namespace custvault::backup
