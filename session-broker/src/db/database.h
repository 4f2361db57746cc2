// The session database: one SQLite file in WAL mode, opened through small RAII wrappers over the
// SQLite C API. Library code returns errors as values; each error names the failing SQLite call,
// the statement or file, and SQLite's own message.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "moat/common/error.h"

namespace moat::broker::db {

// "sqlite3_step 'UPDATE sessions …': database is locked" with the SQLite result code kept in the
// error_code (category "sqlite"), so callers can tell SQLITE_BUSY from SQLITE_CONSTRAINT.
Error SqliteError(std::string_view call, std::string_view object, sqlite3* db, int rc);
const std::error_category& SqliteCategory();

// Not found, a request the current state forbids (an illegal transition, a duplicate name),
// and one the caller's role does not allow. The API maps ENOENT to 404, EINVAL to 400, EPERM
// to 409 and EOPNOTSUPP to 403.
Error NotFound(std::string message);
Error Conflict(std::string message);
Error Forbidden(std::string message);
bool IsConstraintViolation(const Error& error);

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}

  // Bind by 1-based index. Text is copied (SQLITE_TRANSIENT).
  Status Bind(int index, std::int64_t value);
  Status Bind(int index, int value) { return Bind(index, static_cast<std::int64_t>(value)); }
  Status Bind(int index, bool value) { return Bind(index, static_cast<std::int64_t>(value)); }
  Status Bind(int index, double value);
  Status Bind(int index, std::string_view value);
  Status Bind(int index, const std::string& value) { return Bind(index, std::string_view(value)); }
  Status Bind(int index, const char* value) { return Bind(index, std::string_view(value)); }
  Status Bind(int index, std::nullopt_t);
  Status BindBlob(int index, std::string_view bytes);
  template <typename T>
  Status Bind(int index, const std::optional<T>& value) {
    if (!value) return Bind(index, std::nullopt);
    return Bind(index, *value);
  }

  // Binds the arguments to ?1, ?2, … in order.
  template <typename... Args>
  Status BindAll(const Args&... args) {
    int index = 0;
    Status status;
    ((status = status ? Bind(++index, args) : status), ...);
    return status;
  }

  // One step: true with a row ready, false when done.
  Result<bool> Step();
  // Steps to the end (for statements that return no rows), then resets for reuse.
  Status Run();
  // Resets for reuse with new bindings.
  void Reset();

  std::int64_t Int(int column) const { return sqlite3_column_int64(stmt_.get(), column); }
  double Double(int column) const { return sqlite3_column_double(stmt_.get(), column); }
  std::string Text(int column) const;
  std::string Blob(int column) const;
  bool IsNull(int column) const { return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL; }
  std::optional<std::int64_t> OptionalInt(int column) const;
  std::optional<double> OptionalDouble(int column) const;
  std::optional<std::string> OptionalText(int column) const;

  std::string_view Sql() const;
  sqlite3_stmt* handle() const { return stmt_.get(); }

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
  sqlite3* db_ = nullptr;
};

struct OpenOptions {
  // Like `sqlite3 -readonly`: no migration, no write; still refuses a too-new file.
  bool read_only = false;
  int busy_timeout_ms = 5000;
};

// One connection. Transactions belong to the connection, not to a thread: give each thread (or
// each strand) its own Database, or two threads' statements will share one transaction.
class Database {
 public:
  // Creates the parent directories and a 0600 file if needed, sets the PRAGMAs and migrates the
  // schema to the newest version this code knows. Refuses a file from newer code.
  static Result<Database> Open(const std::filesystem::path& path, OpenOptions options = {});

  // `persistent` for statements kept and reused for the life of the connection.
  Result<Statement> Prepare(std::string_view sql, bool persistent = false) const;
  // A statement prepared once per connection and kept: reset, its bindings cleared, ready to
  // bind. Valid until the connection goes; for hot queries with a fixed text.
  Result<Statement*> PrepareCached(std::string_view sql) const;
  // Runs one or more statements that return no rows.
  Status Exec(std::string_view sql) const;
  // Runs a single-value query ("PRAGMA user_version").
  Result<std::int64_t> QueryInt(std::string_view sql) const;

  std::int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_.get()); }
  int Changes() const { return sqlite3_changes(db_.get()); }
  sqlite3* handle() const { return db_.get(); }
  const std::filesystem::path& path() const { return path_; }
  bool read_only() const { return read_only_; }

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  Database(sqlite3* db, std::filesystem::path path, bool read_only)
      : db_(db), path_(std::move(path)), read_only_(read_only) {}

  std::unique_ptr<sqlite3, Close> db_;
  std::filesystem::path path_;
  bool read_only_ = false;
  // After db_, so the statements are finalised before the connection closes.
  mutable std::map<std::string, Statement, std::less<>> cached_;
};

// Rolls back on scope exit unless committed. Begun inside another transaction on the same
// connection, it is a savepoint of that one. Writers use BEGIN IMMEDIATE, so they take the write
// lock up front and wait for it under busy_timeout instead of failing at their first write.
class Transaction {
 public:
  enum class Mode { kImmediate, kDeferred };
  static Result<Transaction> Begin(const Database& db, Mode mode = Mode::kImmediate);

  Transaction(Transaction&& other) noexcept
      : db_(std::exchange(other.db_, nullptr)), nested_(other.nested_) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  Status Commit();

 private:
  Transaction(const Database* db, bool nested) : db_(db), nested_(nested) {}
  const Database* db_;
  bool nested_ = false;
};

}  // namespace moat::broker::db
