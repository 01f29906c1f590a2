// The `custvault login`, `custvault user add|list|disable|review` and
// `custvault channel add|list|rotate|revoke` commands. They call the same AccountService as the HTTP API, as the
// person whose session they carry: `login` stores a session token in a
// 0600 file (default ~/.config/custvault/session, or --session-file), and
// the user commands authenticate with it, so the policy, the separation
// of duties and the audit apply to the CLI exactly as to the API.
//
// Wiring (cli/main.cc):
//   cli::UserCommands users(app, [&](const std::string& data_dir) { ... });
//   CLI11_PARSE(app, argc, argv);
//   if (users.Parsed()) return users.Run();
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "common/status.h"
#include "service/account_service.h"

namespace custvault::cli {

// Opens what the commands need for a data directory (normally a Vault) and
// returns its AccountService, which must stay alive until Run returns.
using OpenAccountService =
    std::function<Result<service::AccountService*>(const std::string& data_dir)>;

// The address the CLI presents to allow-lists and audit entries.
inline constexpr char kCliIp[] = "127.0.0.1";

class UserCommands {
 public:
  // Adds the subcommands to `app`; `app` must outlive this object.
  UserCommands(CLI::App& app, OpenAccountService open);
  UserCommands(const UserCommands&) = delete;
  UserCommands& operator=(const UserCommands&) = delete;

  // Whether one of these subcommands was given (after parsing).
  bool Parsed() const;
  // Runs it: 0 on success, 1 on failure (message on stderr).
  int Run();

 private:
  int RunLogin(service::AccountService& accounts);
  int RunUserAdd(service::AccountService& accounts);
  int RunUserList(service::AccountService& accounts);
  int RunUserDisable(service::AccountService& accounts);
  int RunUserReview(service::AccountService& accounts);
  int RunChannel(service::AccountService& accounts);
  Result<service::Actor> SessionActor(service::AccountService& accounts);

  OpenAccountService open_;
  std::string data_dir_ = "./var";
  std::string session_file_;
  CLI::App* login_ = nullptr;
  CLI::App* user_ = nullptr;
  CLI::App* add_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* disable_ = nullptr;
  CLI::App* review_ = nullptr;
  CLI::App* channel_ = nullptr;
  CLI::App* channel_add_ = nullptr;
  CLI::App* channel_list_ = nullptr;
  CLI::App* channel_rotate_ = nullptr;
  CLI::App* channel_revoke_ = nullptr;
  std::string username_, otp_, display_name_, role_, ip_allowlist_, account_id_, comment_;
  std::string channel_name_, expires_at_;
  bool overdue_ = false;
};

// ~/.config/custvault/session ($HOME from the environment).
std::string DefaultSessionFile();

// The actor of the session whose token `custvault login` stored in
// `session_file` (kUnauthenticated when there is none or it has expired).
Result<service::Actor> SessionActorFromFile(service::AccountService& accounts,
                                            const std::string& session_file);

// Reads a password: from the terminal without echo when stdin is a tty
// (prompting on stderr), otherwise the first line of stdin. At most
// identity::kPasswordBytesMax bytes.
Result<std::string> ReadPassword(const std::string& prompt);

}  // namespace custvault::cli
