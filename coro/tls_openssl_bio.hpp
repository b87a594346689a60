// The ciphertext buffers of one OpenSSL session, and the BIO OpenSSL reads and writes
// them through. A memory BIO would copy each way once more: the transport receives
// straight into the input (TlsEngine::input_space()), and the output moves to the
// transport's send buffer without a copy when that is empty.
#pragma once

#include <openssl/bio.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace corio::detail {

class SessionBuffers {
 public:
  SessionBuffers() = default;
  SessionBuffers(const SessionBuffers&) = delete;
  SessionBuffers& operator=(const SessionBuffers&) = delete;

  /// A new BIO over these buffers, for SSL_set_bio (which takes it); nullptr if out of
  /// memory. The buffers must outlive it.
  BIO* make_bio();

  /// Copies `ciphertext` to the end of the input (growing it as needed).
  void feed(std::span<const char> ciphertext);
  /// Room for at least one full record at the end of the input; allocated at the
  /// first call (uninitialised: a connection that only ever gets small records touches
  /// one page of it).
  std::span<char> input_space();
  void commit_input(std::size_t n) noexcept { in_end_ += n; }
  [[nodiscard]] std::size_t input_size() const noexcept { return in_end_ - in_begin_; }

  [[nodiscard]] std::size_t output_size() const noexcept { return out_.size() - out_taken_; }
  std::size_t take_output(std::span<char> to) noexcept;
  void take_output(std::string& to);

 private:
  static BIO_METHOD* method();
  static int write(BIO* bio, const char* data, std::size_t len, std::size_t* written);
  static int read(BIO* bio, char* data, std::size_t len, std::size_t* got);
  static long control(BIO* bio, int cmd, long num, void* ptr);
  // Makes room for `n` more bytes at the end of the input.
  void reserve_input(std::size_t n);

  std::unique_ptr<char[]> in_;
  std::size_t in_capacity_ = 0;
  std::size_t in_begin_ = 0;  // [in_begin_, in_end_) is ciphertext OpenSSL has not read
  std::size_t in_end_ = 0;
  std::string out_;  // records OpenSSL wrote; out_taken_ bytes of it are taken
  std::size_t out_taken_ = 0;
};

}  // namespace corio::detail
