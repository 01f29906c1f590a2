// custvault: the one binary. `init` creates a data directory, `serve` runs
// the HTTP API, `customer add|get|find` call the same service code locally.
//
// Exit codes: 0 success, 1 the operation failed (message on stderr),
// 2 usage error (CLI11's own).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <atomic>
#include <iterator>
#include <thread>

#include "cli/approval_commands.h"
#include "cli/audit_commands.h"
#include "cli/backup_commands.h"
#include "cli/backup_ops_commands.h"
#include "cli/business_commands.h"
#include "cli/jobs_commands.h"
#include "cli/user_commands.h"
#include "common/env.h"
#include "common/log.h"
#include "http/api_routes.h"
#include "http/server.h"
#include "service/vault.h"

namespace custvault::cli {
namespace {

namespace json = boost::json;

constexpr size_t kJsonInputBytesMax = 1 << 20;

int Fail(const Status& status) {
  std::cerr << "custvault: " << status.ToString() << "\n";
  return 1;
}

void PrintJson(const json::value& value) { std::cout << json::serialize(value) << "\n"; }

Result<std::unique_ptr<service::Vault>> OpenVault(const std::string& data_dir) {
  return service::Vault::Open(Env::Default(), data_dir, ProcessEnvironment());
}

// The CLI acts as the person logged in with `custvault login`: the same
// policy, separation of duties and audit as the API.
struct Session {
  std::unique_ptr<service::Vault> vault;
  service::Actor actor;
};

Result<Session> OpenSession(const std::string& data_dir, const std::string& session_file) {
  Session session;
  ASSIGN_OR_RETURN(session.vault, OpenVault(data_dir));
  ASSIGN_OR_RETURN(session.actor, SessionActorFromFile(session.vault->accounts(), session_file));
  return session;
}

int RunInit(const std::string& data_dir) {
  Result<service::InitResult> result =
      service::InitDataDirectory(Env::Default(), data_dir, ProcessEnvironment());
  if (!result.ok()) return Fail(result.status());
  std::cout << "Initialised " << data_dir << "\n"
            << "Initial accounts, one-time passwords (shown once; also in "
            << result->credentials_path << ", mode 0600, removed once all are changed):\n";
  for (const service::InitialCredential& c : result->credentials) {
    std::cout << "  " << c.username << " (" << service::RoleName(c.role) << "): " << c.password
              << "\n";
  }
  std::cout << "Each must change the password at first login and enrol TOTP.\n";
  return 0;
}

int RunServe(const std::string& data_dir, const std::string& listen) {
  // Block the stop signals before any thread exists (Vault::Open starts the
  // audit writer and others; threads inherit the mask): otherwise the
  // kernel may deliver SIGTERM to a thread that does not block it and the
  // default action kills the process with nothing drained, shipped or
  // checkpointed. One thread below waits for them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Result<std::unique_ptr<service::Vault>> vault = OpenVault(data_dir);
  if (!vault.ok()) return Fail(vault.status());
  InitLogging((*vault)->config().log.level);
  ServerConfig server_config = (*vault)->config().server;
  if (!listen.empty()) server_config.listen = listen;

  http::Router router;
  http::RegisterApiRoutes(router, **vault);
  Result<std::unique_ptr<http::HttpServer>> server =
      http::HttpServer::Create(server_config, router);
  if (!server.ok()) return Fail(server.status());
  if (Status s = (*server)->Start(); !s.ok()) return Fail(s);
  const std::string host = server_config.listen.substr(0, server_config.listen.rfind(':'));
  std::cout << "custvault listening on http://" << host << ":" << (*server)->port() << std::endl;
  // Continuous shipping off-site (R-BAK-2a) when backup.shipping and offsite_dir are set.
  if (Status shipping = (*vault)->backup_ops().StartShipping(); !shipping.ok()) return Fail(shipping);
  if ((*vault)->config().jobs.enabled) {
    (*vault)->scheduler().Start();
    spdlog::info("scheduler started: {} jobs", (*vault)->scheduler().List().size());
  }
  spdlog::info("listening on {}:{} (store {}, crypto profile {}, industry {})", host,
               (*server)->port(), (*vault)->config().storage.backend,
               (*vault)->config().crypto.profile, (*vault)->config().catalog.industry);

  std::atomic<bool> signal_received{false};
  std::atomic<bool> waking_waiter{false};
  std::thread signal_waiter([&] {
    int received = 0;
    sigwait(&signals, &received);
    if (waking_waiter) return;  // our own wake-up: the server stopped by itself
    signal_received = true;
    spdlog::info("signal {} ({}) received: stopping; in-flight requests are answered first",
                 received, received == SIGINT ? "SIGINT" : "SIGTERM");
    (*server)->Stop();
  });
  (*server)->Wait();
  // Wake the waiter if the server stopped for another reason.
  if (!signal_received) {
    waking_waiter = true;
    pthread_kill(signal_waiter.native_handle(), SIGTERM);
  }
  signal_waiter.join();
  // The requests are answered (Stop drained them). Now, in order: jobs stop
  // (a running one finishes), shipping makes its last round, the services
  // end, and the audit log closes with a shutdown checkpoint.
  const Status closed = (*vault)->Close();
  vault->reset();
  if (!closed.ok()) {
    spdlog::error("custvault stopped, but the audit log did not close cleanly: {}",
                  closed.ToString());
    return 1;
  }
  spdlog::info("custvault shut down cleanly: requests drained, jobs stopped, last shipping "
               "round done, audit shutdown checkpoint written");
  return 0;
}

Result<std::string> ReadJsonInput(const std::string& json_text, const std::string& json_file) {
  if (!json_text.empty()) return json_text;
  if (json_file.empty()) return std::string();
  if (json_file == "-") {
    std::string text;
    char buffer[65536];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, stdin)) > 0) {
      text.append(buffer, n);
      if (text.size() > kJsonInputBytesMax) return TooLarge("JSON input over 1 MiB");
    }
    return text;
  }
  ASSIGN_OR_RETURN(std::string text, Env::Default()->ReadFile(json_file));
  if (text.size() > kJsonInputBytesMax) return TooLarge("JSON input over 1 MiB");
  return text;
}

int RunCustomerAdd(const std::string& data_dir, const std::string& session_file,
                   const std::vector<std::string>& field_args, const std::string& json_text,
                   const std::string& json_file) {
  std::map<std::string, std::string> input;
  Result<std::string> text = ReadJsonInput(json_text, json_file);
  if (!text.ok()) return Fail(text.status());
  if (!text->empty()) {
    boost::system::error_code ec;
    json::value parsed = json::parse(*text, ec);
    if (ec || !parsed.is_object()) return Fail(InvalidArgument("input is not a JSON object"));
    for (const auto& [key, value] : parsed.as_object()) {
      if (value.is_string()) {
        input[std::string(key)] = std::string(value.as_string());
      } else if (value.is_int64()) {
        input[std::string(key)] = std::to_string(value.as_int64());
      } else {
        return Fail(
            Status(ErrorCode::kValidationFailed, "wrong JSON type", {{std::string(key), "type"}}));
      }
    }
  }
  for (const std::string& arg : field_args) {
    const size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Fail(InvalidArgument("--field takes key=value"));
    }
    input[arg.substr(0, eq)] = arg.substr(eq + 1);
  }
  if (input.empty()) return Fail(InvalidArgument("give fields with --field key=value or --json"));
  Result<Session> session = OpenSession(data_dir, session_file);
  if (!session.ok()) return Fail(session.status());
  Result<service::CustomerView> view = session->vault->customers().Create(session->actor, input);
  if (!view.ok()) return Fail(view.status());
  PrintJson(http::CustomerJson(*view));
  return 0;
}

int RunCustomerGet(const std::string& data_dir, const std::string& session_file,
                   const std::string& id) {
  Result<Session> session = OpenSession(data_dir, session_file);
  if (!session.ok()) return Fail(session.status());
  Result<service::CustomerView> view = session->vault->customers().Get(session->actor, id);
  if (!view.ok()) return Fail(view.status());
  PrintJson(http::CustomerJson(*view));
  return 0;
}

int RunCustomerFind(const std::string& data_dir, const std::string& session_file,
                    const std::map<std::string, std::string>& by, int limit,
                    const std::string& cursor) {
  std::vector<std::pair<std::string, std::string>> given;
  for (const auto& [field, value] : by) {
    if (!value.empty()) given.emplace_back(field, value);
  }
  if (given.size() != 1) return Fail(InvalidArgument("give exactly one search field"));
  Result<Session> session = OpenSession(data_dir, session_file);
  if (!session.ok()) return Fail(session.status());
  std::optional<std::string> page_cursor;
  if (!cursor.empty()) page_cursor = cursor;
  int retry_after_seconds = 0;
  Result<service::CustomerListPage> page = session->vault->customers().Search(
      session->actor, given[0].first, given[0].second, page_cursor,
      limit > 0 ? std::optional<int>(limit) : std::nullopt, &retry_after_seconds);
  if (!page.ok()) {
    if (page.status().code() == ErrorCode::kRateLimited) {
      std::cerr << "Try again in " << retry_after_seconds << " s.\n";
    }
    return Fail(page.status());
  }
  PrintJson(http::CustomerPageJson(*page));
  return 0;
}

// Issue 10.1: a security officer lists locked searches, or clears one.
int RunSearchUnlock(const std::string& data_dir, const std::string& session_file,
                    const std::string& account_id, const std::string& reason) {
  Result<Session> session = OpenSession(data_dir, session_file);
  if (!session.ok()) return Fail(session.status());
  if (account_id.empty()) {
    Result<std::vector<store::SearchBudgetRow>> locks =
        session->vault->customers().SearchLocks(session->actor);
    if (!locks.ok()) return Fail(locks.status());
    json::array items;
    for (const store::SearchBudgetRow& row : *locks) {
      items.push_back(json::object{{"account_id", row.account_id},
                                   {"locked_at", FormatRfc3339(row.locked_at_us)},
                                   {"reason", row.lock_reason}});
    }
    PrintJson(json::object{{"items", std::move(items)}});
    return 0;
  }
  const Status cleared =
      session->vault->customers().ClearSearchLock(session->actor, account_id, reason);
  if (!cleared.ok()) return Fail(cleared);
  std::cout << "Search of " << account_id << " unlocked; it starts a fresh budget.\n";
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{
      "custvault: customer information vault. Fields encrypted one by one, shown masked.\n"
      "客户信息保险库：逐字段加密，默认脱敏显示。"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "custvault 0.1.0");

  std::string data_dir = "./var";
  auto add_data_dir = [&data_dir](CLI::App* command) {
    command->add_option("--data-dir,-d", data_dir, "Data directory (config, keys, database)")
        ->capture_default_str();
  };
  std::string session_file = DefaultSessionFile();
  auto add_session = [&session_file](CLI::App* command) {
    command
        ->add_option("--session-file", session_file, "Session token written by `custvault login`")
        ->capture_default_str();
  };

  CLI::App* init = app.add_subcommand(
      "init",
      "Create a data directory: config, master key (0600), databases, and the "
      "initial-credentials file (0600) with the first accounts' one-time passwords");
  add_data_dir(init);

  std::string listen;
  CLI::App* serve = app.add_subcommand("serve", "Run the HTTP API server");
  add_data_dir(serve);
  serve->add_option("--listen,-l", listen, "HOST:PORT (default: server.listen in the config)");

  CLI::App* customer = app.add_subcommand("customer", "Customers: add, get, find (masked output)");
  customer->require_subcommand(1);

  std::vector<std::string> field_args;
  std::string json_text, json_file;
  CLI::App* add = customer->add_subcommand("add", "Create a customer (all fields validated)");
  add_data_dir(add);
  add_session(add);
  add->add_option("--field,-f", field_args, "key=value, repeatable (e.g. name=张三)");
  add->add_option("--json", json_text, "The customer as a JSON object");
  add->add_option("--json-file", json_file, "Read the JSON object from a file, or - for stdin");

  std::string id;
  CLI::App* get = customer->add_subcommand("get", "Show one customer, masked");
  add_data_dir(get);
  add_session(get);
  get->add_option("id", id, "Customer id, e.g. C20261129123456")->required();

  std::map<std::string, std::string> by = {
      {"name", ""}, {"id_number", ""}, {"phone", ""}, {"bank_account", ""}, {"email", ""}};
  int limit = 0;
  std::string cursor;
  CLI::App* find = customer->add_subcommand(
      "find", "Exact search through a blind index (never by decrypting every row)");
  add_data_dir(find);
  add_session(find);
  find->add_option("--name", by["name"], "Full name");
  find->add_option("--id-number", by["id_number"], "Resident ID number");
  find->add_option("--phone", by["phone"], "Mobile or landline");
  find->add_option("--bank-account", by["bank_account"], "Bank account or card number");
  find->add_option("--email", by["email"], "E-mail address");
  find->add_option("--limit", limit, "Page size");
  find->add_option("--cursor", cursor, "next_cursor of the previous page");

  std::string unlock_account, unlock_reason;
  CLI::App* search_unlock = customer->add_subcommand(
      "search-unlock",
      "Clear an account's search lock (security_officer); without an account, list the locked "
      "ones");
  add_data_dir(search_unlock);
  add_session(search_unlock);
  search_unlock->add_option("account", unlock_account, "Account id (u_...)");
  search_unlock->add_option("--reason", unlock_reason, "Why the lock is cleared (audited)");

  // `login` and `user ...` (identity), `audit ...` (audit log).
  std::unique_ptr<service::Vault> command_vault;
  UserCommands users(app, [&](const std::string& dir) -> Result<service::AccountService*> {
    ASSIGN_OR_RETURN(command_vault, OpenVault(dir));
    return &command_vault->accounts();
  });
  std::string audit_session_file = DefaultSessionFile();
  std::unique_ptr<AuditCommands> audit = AddAuditCommands(
      app,
      [&](const std::string& dir, const AuditBody& body) -> Status {
        ASSIGN_OR_RETURN(Session session, OpenSession(dir, audit_session_file));
        return body(session.vault->audit(), session.actor);
      },
      std::cout, std::cerr);
  // The audit commands act as the logged-in auditor or security officer.
  for (CLI::App* sub :
       app.get_subcommand("audit")->get_subcommands([](CLI::App*) { return true; })) {
    sub->add_option("--session-file", audit_session_file,
                    "Session token written by `custvault login`");
  }

  // `jobs list|run` acts as the logged-in user.
  std::unique_ptr<service::Vault> jobs_vault;
  JobsCommands jobs(
      app,
      [&](const std::string& dir) -> Result<service::Vault*> {
        ASSIGN_OR_RETURN(jobs_vault, OpenVault(dir));
        return jobs_vault.get();
      },
      std::cout, std::cerr);

  // `business ...` (business records) act as the logged-in user.
  std::unique_ptr<BusinessCommands> business = AddBusinessCommands(
      app,
      [&](const std::string& dir, const std::string& session,
          const BusinessBody& body) -> Status {
        ASSIGN_OR_RETURN(Session opened, OpenSession(dir, session));
        return body(opened.vault->business(), opened.actor);
      },
      std::cout, std::cerr);

  // `approvals ...`, `tags ...` and `rules ...` act as the logged-in user.
  std::unique_ptr<ApprovalCommands> approvals = AddApprovalCommands(
      app,
      [&](const std::string& dir, const std::string& session,
          const ApprovalBody& body) -> Status {
        ASSIGN_OR_RETURN(Session opened, OpenSession(dir, session));
        return body(opened.vault->approvals(), opened.vault->tags(), opened.actor);
      },
      std::cout, std::cerr);

  // `backup full|incremental|list|verify|prune` and `restore` (the backup core).
  std::string backup_session_file = DefaultSessionFile();
  std::unique_ptr<BackupCommands> backups = AddBackupCommands(
      app,
      [&](const std::string& dir, const BackupBody& body) -> Status {
        ASSIGN_OR_RETURN(Session opened, OpenSession(dir, backup_session_file));
        return body(*opened.vault, opened.actor);
      },
      std::cout, std::cerr);
  for (const char* name : {"full", "incremental", "list", "verify", "prune"}) {
    app.get_subcommand("backup")->get_subcommand(name)->add_option(
        "--session-file", backup_session_file, "Session token written by `custvault login`");
  }

  // `backup restore-test|restore-tests|offsite-copy|shipping-status|restore-shipped`.
  std::string backup_ops_session_file = DefaultSessionFile();
  std::unique_ptr<BackupOpsCommands> backup_ops = AddBackupOpsCommands(
      app,
      [&](const std::string& dir, const BackupOpsBody& body) -> Status {
        ASSIGN_OR_RETURN(Session opened, OpenSession(dir, backup_ops_session_file));
        return body(*opened.vault, opened.actor);
      },
      std::cout, std::cerr);
  for (const char* name : {"restore-test", "restore-tests", "offsite-copy", "shipping-status"}) {
    app.get_subcommand("backup")->get_subcommand(name)->add_option(
        "--session-file", backup_ops_session_file, "Session token written by `custvault login`");
  }

  CLI11_PARSE(app, argc, argv);

  if (users.Parsed()) return users.Run();
  if (jobs.Parsed()) return jobs.Run();
  if (std::optional<int> code = audit->RunIfParsed()) return *code;
  if (std::optional<int> code = backups->RunIfParsed()) return *code;
  if (std::optional<int> code = backup_ops->RunIfParsed()) return *code;
  if (std::optional<int> code = business->RunIfParsed()) return *code;
  if (std::optional<int> code = approvals->RunIfParsed()) return *code;

  if (init->parsed()) return RunInit(data_dir);
  if (serve->parsed()) return RunServe(data_dir, listen);
  if (add->parsed()) {
    return RunCustomerAdd(data_dir, session_file, field_args, json_text, json_file);
  }
  if (get->parsed()) return RunCustomerGet(data_dir, session_file, id);
  if (find->parsed()) return RunCustomerFind(data_dir, session_file, by, limit, cursor);
  if (search_unlock->parsed()) {
    return RunSearchUnlock(data_dir, session_file, unlock_account, unlock_reason);
  }
  return 2;
}

}  // namespace custvault::cli

int main(int argc, char** argv) { return custvault::cli::Main(argc, argv); }
