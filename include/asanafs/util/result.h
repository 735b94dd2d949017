// util/result: expected failures as values. Layer: util (depends on nothing).
//
// Error carries a classification (ErrorCode) that only vfs/errno.cc turns into
// an errno, the HTTP status when there was one, Retry-After when the server
// sent one, and a human message for the single log line that reports it.
#ifndef ASANAFS_UTIL_RESULT_H_
#define ASANAFS_UTIL_RESULT_H_

#include <cassert>
#include <chrono>
#include <string>
#include <utility>
#include <variant>

namespace asanafs {

enum class ErrorCode {
  kNotFound,          // 404, unknown gid or name
  kUnauthenticated,   // 401
  kPermissionDenied,  // 403
  kRateLimited,       // 429 still failing after retries
  kUnavailable,       // 5xx, connection refused/reset, DNS
  kTimeout,           // a deadline passed
  kInvalidArgument,   // bad input from the user or a 400
  kTooLarge,          // over Asana's 100 MB limit
  kExists,            // name already taken
  kReadOnly,          // write on a read-only mount or object
  kNotSupported,      // operation Asana cannot express
  kBadResponse,       // the server's reply could not be understood
  kIo,                // local disk failure
  kBusy,              // resource locked by someone else
  kNotPermitted,      // an operation Asana or asanafs does not allow here (EPERM)
  kNoAttribute,       // no such extended attribute (ENODATA)
  kNotDirectory,      // a directory operation on a file
  kIsDirectory,       // a file operation on a directory
  kInternal,          // a bug
};

// Returns a short stable name such as "not_found", for logs and tests.
const char* ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  int http_status = 0;                     // 0 when no HTTP reply was involved
  std::chrono::seconds retry_after{0};     // from a 429's Retry-After
  int sys_errno = 0;                       // for kIo: the errno of the failed call
};

inline Error MakeError(ErrorCode code, std::string message, int http_status = 0) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  e.http_status = http_status;
  return e;
}

// Wraps an Error so that `return Unexpected(err);` converts to any Result<T>.
struct Unexpected {
  Error error;
  explicit Unexpected(Error e) : error(std::move(e)) {}
};

// Result<T>: a T or an Error, shaped like std::expected (has_value, value,
// error, operator*, operator->) so that moving to C++23 is mechanical.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(Unexpected u) : v_(std::in_place_index<1>, std::move(u.error)) {}  // NOLINT
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & {
    assert(has_value());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(v_));
  }
  const Error& error() const {
    assert(!has_value());
    return std::get<1>(v_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Unexpected u) : err_(std::move(u.error)), ok_(false) {}  // NOLINT
  Result(Error e) : err_(std::move(e)), ok_(false) {}  // NOLINT
  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return err_;
  }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status OkStatus() { return Status(); }

}  // namespace asanafs

#define ASANAFS_CONCAT_INNER(a, b) a##b
#define ASANAFS_CONCAT(a, b) ASANAFS_CONCAT_INNER(a, b)

// Returns the error of `expr` (a Result or Status) from the enclosing function.
#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    auto asanafs_status_ = (expr);                         \
    if (!asanafs_status_.has_value()) {                    \
      return ::asanafs::Unexpected(asanafs_status_.error()); \
    }                                                      \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Foo());` declares x from Foo()'s value or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(ASANAFS_CONCAT(asanafs_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)      \
  auto tmp = (expr);                               \
  if (!tmp.has_value()) {                          \
    return ::asanafs::Unexpected(tmp.error());     \
  }                                                \
  lhs = std::move(tmp).value()

#endif  // ASANAFS_UTIL_RESULT_H_
