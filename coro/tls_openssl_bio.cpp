#include "coro/tls_openssl_bio.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace corio::detail {
namespace {

// One receive: a full record (16 KiB of plaintext and up to 256 bytes of overhead)
// several times over, so a burst of records takes few receives.
constexpr std::size_t kInput = 64 * 1024;
// What input_space() always leaves room for: one full record and its header.
constexpr std::size_t kRecord = 16 * 1024 + 256 + 5;

}  // namespace

BIO_METHOD* SessionBuffers::method() {
  // Made once (thread-safe static) and never freed, like OpenSSL's own methods.
  static BIO_METHOD* const m = [] {
    BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "corio");
    if (made != nullptr) {
      BIO_meth_set_write_ex(made, &SessionBuffers::write);
      BIO_meth_set_read_ex(made, &SessionBuffers::read);
      BIO_meth_set_ctrl(made, &SessionBuffers::control);
    }
    return made;
  }();
  return m;
}

BIO* SessionBuffers::make_bio() {
  BIO_METHOD* m = method();
  if (m == nullptr) return nullptr;
  BIO* bio = BIO_new(m);
  if (bio == nullptr) return nullptr;
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  return bio;
}

int SessionBuffers::write(BIO* bio, const char* data, std::size_t len, std::size_t* written) {
  BIO_clear_retry_flags(bio);
  auto* self = static_cast<SessionBuffers*>(BIO_get_data(bio));
  try {
    self->out_.append(data, len);
  } catch (const std::bad_alloc&) {
    return 0;  // OpenSSL's write fails: an exception must not cross its C frames
  }
  *written = len;
  return 1;
}

int SessionBuffers::read(BIO* bio, char* data, std::size_t len, std::size_t* got) {
  BIO_clear_retry_flags(bio);
  auto* self = static_cast<SessionBuffers*>(BIO_get_data(bio));
  const std::size_t n = std::min(len, self->input_size());
  if (n == 0) {
    BIO_set_retry_read(bio);  // "try again", not the end of the stream
    return 0;
  }
  std::memcpy(data, self->in_.get() + self->in_begin_, n);
  self->in_begin_ += n;
  *got = n;
  return 1;
}

long SessionBuffers::control(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
  const auto* self = static_cast<const SessionBuffers*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:  // the records are the transport's to send
      return 1;
    case BIO_CTRL_PENDING:
      return static_cast<long>(self->input_size());
    case BIO_CTRL_WPENDING:
      return static_cast<long>(self->output_size());
    default:
      return 0;  // kTLS and the rest: not offered
  }
}

void SessionBuffers::reserve_input(std::size_t n) {
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  if (in_capacity_ - in_end_ >= n) return;
  const std::size_t kept = input_size();
  if (in_capacity_ - kept >= n) {
    if (kept > 0) std::memmove(in_.get(), in_.get() + in_begin_, kept);
  } else {
    const std::size_t capacity = std::max({kInput, 2 * in_capacity_, kept + n});
    std::unique_ptr<char[]> bigger(new char[capacity]);  // no zero fill
    if (kept > 0) std::memcpy(bigger.get(), in_.get() + in_begin_, kept);
    in_ = std::move(bigger);
    in_capacity_ = capacity;
  }
  in_begin_ = 0;
  in_end_ = kept;
}

void SessionBuffers::feed(std::span<const char> ciphertext) {
  if (ciphertext.empty()) return;
  reserve_input(ciphertext.size());
  std::memcpy(in_.get() + in_end_, ciphertext.data(), ciphertext.size());
  in_end_ += ciphertext.size();
}

std::span<char> SessionBuffers::input_space() {
  reserve_input(kRecord);
  return {in_.get() + in_end_, in_capacity_ - in_end_};
}

std::size_t SessionBuffers::take_output(std::span<char> to) noexcept {
  const std::size_t n = std::min(to.size(), output_size());
  if (n == 0) return 0;
  std::memcpy(to.data(), out_.data() + out_taken_, n);
  out_taken_ += n;
  if (out_taken_ == out_.size()) {
    out_.clear();
    out_taken_ = 0;
  }
  return n;
}

void SessionBuffers::take_output(std::string& to) {
  if (output_size() == 0) return;
  if (to.empty() && out_taken_ == 0) {
    to.swap(out_);
  } else {
    to.append(out_, out_taken_);
  }
  out_.clear();
  out_taken_ = 0;
}

}  // namespace corio::detail
