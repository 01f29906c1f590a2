#include "cli/user_commands.h"

#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "common/env.h"
#include "http/identity_routes.h"
#include "identity/password.h"

namespace custvault::cli {
namespace {

namespace json = boost::json;

int Fail(const Status& status) {
  std::cerr << "custvault: " << status.ToString() << "\n";
  return 1;
}

void Print(const json::value& value) { std::cout << json::serialize(value) << "\n"; }

void Wipe(std::string& secret) { OPENSSL_cleanse(secret.data(), secret.size()); }

std::string ParentDirectory(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

}  // namespace

std::string DefaultSessionFile() {
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.config/custvault/session";
}

Result<std::string> ReadPassword(const std::string& prompt) {
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (tty) {
    std::cerr << prompt << std::flush;
    if (::tcgetattr(STDIN_FILENO, &saved) != 0) return Internal("cannot read terminal settings");
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
      return Internal("cannot turn off terminal echo");
    }
  }
  std::string password;
  std::getline(std::cin, password);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::cerr << "\n";
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.size() > identity::kPasswordBytesMax) {
    Wipe(password);
    return InvalidArgument("password is too long");
  }
  return password;
}

UserCommands::UserCommands(CLI::App& app, OpenAccountService open)
    : open_(std::move(open)), session_file_(DefaultSessionFile()) {
  auto common = [this](CLI::App* command) {
    command->add_option("--data-dir,-d", data_dir_, "Data directory (config, keys, database)")
        ->capture_default_str();
    command->add_option("--session-file", session_file_, "Where the session token is kept")
        ->capture_default_str();
  };
  login_ = app.add_subcommand(
      "login",
      "Log in; the password is read without echo (or from stdin when piped) and the "
      "session token is written to a 0600 file for the other commands");
  common(login_);
  login_->add_option("--username,-u", username_, "Account name")->required();
  login_->add_option("--otp", otp_, "Current TOTP code, once enrolled");

  user_ =
      app.add_subcommand("user", "Accounts: add, list, disable, review (as the logged-in user)");
  user_->require_subcommand(1);
  add_ = user_->add_subcommand(
      "add",
      "Create an account (sys_admin); it waits for a security officer to approve its role; "
      "prints its one-time password once");
  common(add_);
  add_->add_option("--username,-u", username_, "Account name: a-z 0-9 . _ -, 3..64")->required();
  add_->add_option("--display-name", display_name_, "The person's name");
  add_->add_option(
          "--role,-r", role_,
          "entry_clerk | info_manager | dept_head | auditor | security_officer | sys_admin")
      ->required();
  add_->add_option("--ip-allowlist", ip_allowlist_, "Comma-separated CIDRs the account may use");

  list_ = user_->add_subcommand("list", "List accounts (sys_admin)");
  common(list_);

  disable_ =
      user_->add_subcommand("disable", "Disable an account and end its sessions (sys_admin)");
  common(disable_);
  disable_->add_option("id", account_id_, "Account id (u_...)")->required();

  review_ = user_->add_subcommand(
      "review", "Record an access review of an account, or list overdue ones with --overdue");
  common(review_);
  review_->add_option("id", account_id_, "Account id (u_...)");
  review_->add_option("--comment", comment_, "What was checked");
  review_->add_flag("--overdue", overdue_, "List accounts whose review is overdue");

  channel_ = app.add_subcommand(
      "channel", "Channel systems and their API keys: add, list, rotate, revoke (sys_admin)");
  channel_->require_subcommand(1);
  channel_add_ = channel_->add_subcommand(
      "add", "Register a channel; prints its API key once (expires after auth.channel_key_days)");
  channel_rotate_ = channel_->add_subcommand(
      "rotate",
      "A new API key, printed once; the old one works for auth.channel_key_overlap_hours more");
  for (CLI::App* command : {channel_add_, channel_rotate_}) {
    common(command);
    command->add_option("name", channel_name_, "Channel name")->required();
    command->add_option("--expires-at", expires_at_,
                        "When the new key stops working (RFC 3339); default "
                        "auth.channel_key_days from now");
  }
  channel_list_ = channel_->add_subcommand("list", "List channels and their keys' state");
  common(channel_list_);
  channel_revoke_ =
      channel_->add_subcommand("revoke", "Revoke a channel: every key stops working at once");
  common(channel_revoke_);
  channel_revoke_->add_option("name", channel_name_, "Channel name")->required();
}

bool UserCommands::Parsed() const {
  return login_->parsed() || user_->parsed() || channel_->parsed();
}

int UserCommands::Run() {
  Result<service::AccountService*> accounts = open_(data_dir_);
  if (!accounts.ok()) return Fail(accounts.status());
  if (login_->parsed()) return RunLogin(**accounts);
  if (add_->parsed()) return RunUserAdd(**accounts);
  if (list_->parsed()) return RunUserList(**accounts);
  if (disable_->parsed()) return RunUserDisable(**accounts);
  if (review_->parsed()) return RunUserReview(**accounts);
  if (channel_->parsed()) return RunChannel(**accounts);
  return 2;
}

Result<service::Actor> UserCommands::SessionActor(service::AccountService& accounts) {
  return SessionActorFromFile(accounts, session_file_);
}

Result<service::Actor> SessionActorFromFile(service::AccountService& accounts,
                                            const std::string& session_file) {
  Result<std::string> token = Env::Default()->ReadFile(session_file);
  if (!token.ok()) {
    return Unauthenticated("no session (run: custvault login --username <name>)");
  }
  while (!token->empty() && (token->back() == '\n' || token->back() == '\r')) token->pop_back();
  Result<service::Actor> actor = accounts.Authenticate(*token, kCliIp);
  Wipe(*token);
  return actor;
}

int UserCommands::RunLogin(service::AccountService& accounts) {
  Result<std::string> password = ReadPassword("Password for " + username_ + ": ");
  if (!password.ok()) return Fail(password.status());
  Result<service::LoginResult> login = accounts.Login(username_, *password, otp_, kCliIp);
  Wipe(*password);
  if (!login.ok()) return Fail(login.status());
  Status written = Env::Default()->CreateDirectories(ParentDirectory(session_file_), 0700);
  if (written.ok()) {
    written = Env::Default()->WriteFileAtomic(session_file_, login->token + "\n", 0600, false);
  }
  Wipe(login->token);
  if (!written.ok()) return Fail(written);
  std::cout << "Logged in; session in " << session_file_ << " (mode 0600), until "
            << FormatRfc3339(login->expires_at_us) << " or "
            << "idle timeout.\n";
  if (login->must_change_password) {
    std::cout << "You must change your password first (POST /api/v1/auth/password).\n";
  }
  if (login->must_enrol_totp) {
    std::cout << "You must enrol a TOTP second factor first (POST /api/v1/auth/totp/enrol).\n";
  }
  return 0;
}

int UserCommands::RunUserAdd(service::AccountService& accounts) {
  Result<service::Actor> actor = SessionActor(accounts);
  if (!actor.ok()) return Fail(actor.status());
  std::optional<service::Role> role = service::ParseRole(role_);
  if (!role) return Fail(InvalidArgument("unknown role: " + role_));
  Result<service::CreatedAccount> created =
      accounts.CreateAccount(*actor, {username_, display_name_, *role, ip_allowlist_});
  if (!created.ok()) return Fail(created.status());
  Print(json::object{{"account", http::AccountJson(created->account)},
                     {"role_request_id", created->role_request_id},
                     {"one_time_password", created->one_time_password}});
  Wipe(created->one_time_password);
  std::cerr << "The one-time password is shown once. The account can log in after a security "
               "officer approves request "
            << created->role_request_id << ".\n";
  return 0;
}

int UserCommands::RunUserList(service::AccountService& accounts) {
  Result<service::Actor> actor = SessionActor(accounts);
  if (!actor.ok()) return Fail(actor.status());
  Result<std::vector<service::AccountView>> users = accounts.ListAccounts(*actor);
  if (!users.ok()) return Fail(users.status());
  json::array items;
  for (const service::AccountView& user : *users) items.push_back(http::AccountJson(user));
  Print(json::object{{"items", std::move(items)}});
  return 0;
}

int UserCommands::RunUserDisable(service::AccountService& accounts) {
  Result<service::Actor> actor = SessionActor(accounts);
  if (!actor.ok()) return Fail(actor.status());
  const Status disabled = accounts.DisableAccount(*actor, account_id_);
  if (!disabled.ok()) return Fail(disabled);
  std::cout << "Disabled " << account_id_ << "; its sessions have ended.\n";
  return 0;
}

int UserCommands::RunUserReview(service::AccountService& accounts) {
  Result<service::Actor> actor = SessionActor(accounts);
  if (!actor.ok()) return Fail(actor.status());
  if (overdue_) {
    Result<std::vector<service::AccountView>> users = accounts.OverdueReviews(*actor);
    if (!users.ok()) return Fail(users.status());
    json::array items;
    for (const service::AccountView& user : *users) items.push_back(http::AccountJson(user));
    Print(json::object{{"items", std::move(items)}});
    return 0;
  }
  if (account_id_.empty()) return Fail(InvalidArgument("give an account id or --overdue"));
  const Status reviewed = accounts.ReviewAccount(*actor, account_id_, comment_);
  if (!reviewed.ok()) return Fail(reviewed);
  std::cout << "Review of " << account_id_ << " recorded.\n";
  return 0;
}

int UserCommands::RunChannel(service::AccountService& accounts) {
  Result<service::Actor> actor = SessionActor(accounts);
  if (!actor.ok()) return Fail(actor.status());
  int64_t expires_at = 0;
  if (!expires_at_.empty()) {
    std::optional<int64_t> parsed = ParseRfc3339(expires_at_);
    if (!parsed) return Fail(InvalidArgument("--expires-at is not an RFC 3339 time"));
    expires_at = *parsed;
  }
  if (channel_list_->parsed()) {
    Result<std::vector<service::ChannelView>> channels = accounts.ListChannels(*actor);
    if (!channels.ok()) return Fail(channels.status());
    json::array items;
    for (const service::ChannelView& channel : *channels) {
      items.push_back(http::ChannelJson(channel));
    }
    Print(json::object{{"items", std::move(items)}});
    return 0;
  }
  if (channel_revoke_->parsed()) {
    Result<service::ChannelView> revoked = accounts.RevokeChannel(*actor, channel_name_);
    if (!revoked.ok()) return Fail(revoked.status());
    Print(http::ChannelJson(*revoked));
    return 0;
  }
  Result<service::RegisteredChannel> issued =
      channel_add_->parsed() ? accounts.RegisterChannel(*actor, channel_name_, expires_at)
                             : accounts.RotateChannelKey(*actor, channel_name_, expires_at);
  if (!issued.ok()) return Fail(issued.status());
  json::object out = http::ChannelJson(issued->channel);
  out["api_key"] = issued->api_key;
  Print(out);
  Wipe(issued->api_key);
  std::cerr << "The API key is shown once; only its hash is stored.\n";
  return 0;
}

}  // namespace custvault::cli
