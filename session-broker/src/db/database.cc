#include "db/database.h"

#include <fcntl.h>
#include <unistd.h>

#include <system_error>

#include "db/migrations.h"

namespace moat::broker::db {
namespace {

class SqliteErrorCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "sqlite"; }
  std::string message(int rc) const override { return sqlite3_errstr(rc); }
};

// SQL in messages is cut to its first line, enough to find the statement.
std::string Abbreviate(std::string_view sql) {
  std::string_view line = sql.substr(0, sql.find('\n'));
  if (line.size() > 80) return std::string(line.substr(0, 77)) + "...";
  return std::string(line);
}

Status CreateFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return FailErrno("create directory", path.parent_path().string(), ec.value());
  }
  // The database holds password hashes and the audit trail: owner-only from the first byte.
  // SQLite gives the -wal and -shm files the same mode as the main file.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return FailErrno("open", path.string());
  ::close(fd);
  return {};
}

Status SetPragmas(const Database& db, const OpenOptions& options) {
  if (int rc = sqlite3_busy_timeout(db.handle(), options.busy_timeout_ms); rc != SQLITE_OK) {
    return Fail(SqliteError("sqlite3_busy_timeout", db.path().string(), db.handle(), rc));
  }
  MOAT_TRY_VOID(db.Exec("PRAGMA foreign_keys = ON"));
  if (options.read_only) return {};
  MOAT_TRY(auto stmt, db.Prepare("PRAGMA journal_mode = WAL"));
  MOAT_TRY(bool row, stmt.Step());
  if (!row || stmt.Text(0) != "wal") {
    return Fail(Error(std::make_error_code(std::errc::not_supported),
                      "PRAGMA journal_mode = WAL on '" + db.path().string() +
                          "': the file stays in another journal mode; is it on a network or "
                          "read-only file system?"));
  }
  return db.Exec("PRAGMA synchronous = NORMAL");
}

}  // namespace

const std::error_category& SqliteCategory() {
  static const SqliteErrorCategory category;
  return category;
}

Error SqliteError(std::string_view call, std::string_view object, sqlite3* db, int rc) {
  std::string message(call);
  if (!object.empty()) message += " '" + Abbreviate(object) + "'";
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error(std::error_code(rc, SqliteCategory()), std::move(message));
}

Error NotFound(std::string message) {
  return Error(std::make_error_code(std::errc::no_such_file_or_directory), std::move(message));
}

Error Conflict(std::string message) {
  return Error(std::make_error_code(std::errc::operation_not_permitted), std::move(message));
}

Error Forbidden(std::string message) {
  return Error(std::make_error_code(std::errc::operation_not_supported), std::move(message));
}

bool IsConstraintViolation(const Error& error) {
  return error.code().category() == SqliteCategory() &&
         (error.code().value() & 0xff) == SQLITE_CONSTRAINT;
}

// --- Statement -------------------------------------------------------------------------------

namespace {
Status BindResult(const Statement& stmt, sqlite3* db, int rc) {
  if (rc == SQLITE_OK) return {};
  return Fail(SqliteError("sqlite3_bind", stmt.Sql(), db, rc));
}
}  // namespace

Status Statement::Bind(int index, std::int64_t value) {
  return BindResult(*this, db_, sqlite3_bind_int64(stmt_.get(), index, value));
}

Status Statement::Bind(int index, double value) {
  return BindResult(*this, db_, sqlite3_bind_double(stmt_.get(), index, value));
}

Status Statement::Bind(int index, std::string_view value) {
  return BindResult(*this, db_,
                    sqlite3_bind_text64(stmt_.get(), index, value.data(), value.size(),
                                        SQLITE_TRANSIENT, SQLITE_UTF8));
}

Status Statement::Bind(int index, std::nullopt_t) {
  return BindResult(*this, db_, sqlite3_bind_null(stmt_.get(), index));
}

Status Statement::BindBlob(int index, std::string_view bytes) {
  return BindResult(
      *this, db_,
      sqlite3_bind_blob64(stmt_.get(), index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error error = SqliteError("sqlite3_step", Sql(), db_, rc);
  sqlite3_reset(stmt_.get());
  return Fail(std::move(error));
}

Status Statement::Run() {
  Result<bool> row;
  do {
    row = Step();
    if (!row) return Fail(std::move(row).error());
  } while (*row);
  Reset();
  return {};
}

void Statement::Reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::string Statement::Text(int column) const {
  const auto* text = sqlite3_column_text(stmt_.get(), column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column)));
}

std::string Statement::Blob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_.get(), column);
  if (blob == nullptr) return {};
  return std::string(static_cast<const char*>(blob),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column)));
}

std::optional<std::int64_t> Statement::OptionalInt(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Int(column);
}

std::optional<double> Statement::OptionalDouble(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Double(column);
}

std::optional<std::string> Statement::OptionalText(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Text(column);
}

std::string_view Statement::Sql() const {
  const char* sql = stmt_ ? sqlite3_sql(stmt_.get()) : nullptr;
  return sql != nullptr ? std::string_view(sql) : std::string_view();
}

// --- Database --------------------------------------------------------------------------------

Result<Database> Database::Open(const std::filesystem::path& path, OpenOptions options) {
  int flags = SQLITE_OPEN_FULLMUTEX;
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    MOAT_TRY_VOID_CTX(CreateFile(path), "open session database");
    flags |= SQLITE_OPEN_READWRITE;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Database db(raw, path, options.read_only);
  if (rc != SQLITE_OK) return Fail(SqliteError("sqlite3_open_v2", path.string(), raw, rc));
  sqlite3_extended_result_codes(raw, 1);
  MOAT_TRY_VOID_CTX(SetPragmas(db, options), "open session database '" + path.string() + "'");
  if (options.read_only) {
    MOAT_TRY_VOID(CheckSchemaVersion(db));
  } else {
    MOAT_TRY_VOID(Migrate(db));
  }
  return db;
}

Result<Statement> Database::Prepare(std::string_view sql, bool persistent) const {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                              persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) return Fail(SqliteError("sqlite3_prepare_v3", sql, db_.get(), rc));
  return Statement(stmt, db_.get());
}

Result<Statement*> Database::PrepareCached(std::string_view sql) const {
  auto it = cached_.find(sql);
  if (it == cached_.end()) {
    MOAT_TRY(Statement stmt, Prepare(sql, /*persistent=*/true));
    it = cached_.emplace(std::string(sql), std::move(stmt)).first;
  }
  it->second.Reset();
  sqlite3_clear_bindings(it->second.handle());
  return &it->second;
}

Status Database::Exec(std::string_view sql) const {
  std::string text(sql);
  int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Fail(SqliteError("sqlite3_exec", sql, db_.get(), rc));
  return {};
}

Result<std::int64_t> Database::QueryInt(std::string_view sql) const {
  MOAT_TRY(auto stmt, Prepare(sql));
  MOAT_TRY(bool row, stmt.Step());
  if (!row) return Fail(NotFound("'" + std::string(sql) + "' returned no row"));
  return stmt.Int(0);
}

// --- Transaction -----------------------------------------------------------------------------

Result<Transaction> Transaction::Begin(const Database& db, Mode mode) {
  // Inside another transaction on this connection: a savepoint, so that stores compose (a
  // caller's transaction around a store call that opens its own).
  if (sqlite3_get_autocommit(db.handle()) == 0) {
    MOAT_TRY_VOID(db.Exec("SAVEPOINT moat_nested"));
    return Transaction(&db, /*nested=*/true);
  }
  MOAT_TRY_VOID(db.Exec(mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
  return Transaction(&db, /*nested=*/false);
}

Transaction::~Transaction() {
  if (db_ == nullptr) return;
  const char* undo = nested_ ? "ROLLBACK TO moat_nested; RELEASE moat_nested" : "ROLLBACK";
  sqlite3_exec(db_->handle(), undo, nullptr, nullptr, nullptr);
}

Status Transaction::Commit() {
  const Database* db = std::exchange(db_, nullptr);
  if (db == nullptr) return Fail(InvalidArgument("commit: the transaction is already finished"));
  const char* commit = nested_ ? "RELEASE moat_nested" : "COMMIT";
  if (int rc = sqlite3_exec(db->handle(), commit, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
    Error error = SqliteError("sqlite3_exec", commit, db->handle(), rc);
    const char* undo = nested_ ? "ROLLBACK TO moat_nested; RELEASE moat_nested" : "ROLLBACK";
    sqlite3_exec(db->handle(), undo, nullptr, nullptr, nullptr);
    return Fail(std::move(error));
  }
  return {};
}

}  // namespace moat::broker::db
