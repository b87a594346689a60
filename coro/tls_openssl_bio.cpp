#include "coro/tls_openssl_bio.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>
#include <utility>

namespace corio::detail {
namespace {

// One receive: a full record (16 KiB of plaintext and up to 256 bytes of overhead)
// several times over, so a burst of records takes few receives.
constexpr std::size_t kInput = 64 * 1024;
// What input_space() always leaves room for: one full record and its header.
constexpr std::size_t kRecord = 16 * 1024 + 256 + 5;

// OpenSSL's kTLS controls that <openssl/bio.h> only names in a comment (OpenSSL 3's
// include/internal/bio.h; its socket BIO answers them): ptr is the crypto_info, num
// non-zero for the send keys (SSL3_CC_WRITE), 0 for the receive keys; num is the type
// of the next record written; back to application data.
constexpr int kSetKtls = 72;
constexpr int kSetKtlsRecordType = 74;
constexpr int kClearKtlsRecordType = 75;

}  // namespace

// With the session, not at the first receive: allocated after OpenSSL's own state, the
// block would be the heap's top when it is freed, and glibc then gives its pages back
// to the kernel (a thread arena's heap trims with madvise), so every new connection
// took a page fault on its first receive (measured: one per connection under s_time).
SessionBuffers::SessionBuffers() : in_(new char[kInput]), in_capacity_(kInput) {}

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
  // Once the kernel sends, OpenSSL writes plaintext: application data goes into the
  // output as ciphertext did (the kernel frames it when the transport sends it), any
  // other record straight to the socket with its type.
  if (self->record_type_ != 0) return self->send_record(bio, data, len, written);
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

long SessionBuffers::control(BIO* bio, int cmd, long num, void* ptr) {
  auto* self = static_cast<SessionBuffers*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return self->flush(bio);
    case BIO_CTRL_PENDING:
      return static_cast<long>(self->input_size());
    case BIO_CTRL_WPENDING:
      return static_cast<long>(self->output_size());
    case kSetKtls: {
      // Receive keys stay with OpenSSL: a kTLS receive needs recvmsg() with control
      // messages, which no backend's receive carries.
      if (num == 0 || self->kernel_ == nullptr || self->kernel_sends_) return 0;
      if (const std::error_code e = self->kernel_->start_kernel_send(ptr)) {
        // EOPNOTSUPP: not a TCP socket; EINVAL: a cipher the kernel does not take.
        try {
          self->note("the kernel refused the send keys: " + e.message());
        } catch (const std::bad_alloc&) {
          self->note("the kernel refused the send keys");
        }
        return 0;
      }
      self->kernel_sends_ = true;
      self->kernel_note_.clear();
      return 1;
    }
    case BIO_CTRL_GET_KTLS_SEND:
      return self->kernel_sends_ ? 1 : 0;
    case kSetKtlsRecordType:
      self->record_type_ = static_cast<unsigned char>(num);
      return 1;
    case kClearKtlsRecordType:
      self->record_type_ = 0;
      return 1;
    default:
      return 0;  // receive kTLS (BIO_CTRL_GET_KTLS_RECV) and the rest: not offered
  }
}

long SessionBuffers::flush(BIO* bio) noexcept {
  // Without the kernel the records are the transport's to send when it likes.
  if (kernel_ == nullptr) return 1;
  BIO_clear_retry_flags(bio);
  if (kernel_->send_all_now()) return 1;
  // Before the keys change this makes OpenSSL keep making the records itself, for the
  // rest of the session; before a record of its own, it is a "try again" (want_write).
  if (!kernel_sends_) note("the handshake's records did not all fit the socket at once");
  BIO_set_retry_write(bio);
  return -1;
}

int SessionBuffers::send_record(BIO* bio, const char* data, std::size_t len,
                                std::size_t* written) noexcept {
  const std::intptr_t r = kernel_->send_record(record_type_, {data, len});
  if (r == -EAGAIN) {
    BIO_set_retry_write(bio);  // OpenSSL flushes, sets the type and writes it again
    return 0;
  }
  if (r < 0) {
    note(r == -EPIPE || r == -ECONNRESET ? "the peer is gone" : "sending a TLS record failed");
    return 0;
  }
  record_type_ = 0;  // one record per type control, as OpenSSL's socket BIO
  *written = static_cast<std::size_t>(r);
  return 1;
}

void SessionBuffers::note(std::string_view why) noexcept {
  try {
    kernel_note_ = why;
  } catch (const std::bad_alloc&) {
    kernel_note_.clear();
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
