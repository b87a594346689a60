// The ciphertext buffers of one OpenSSL session, and the BIO OpenSSL reads and writes
// them through. A memory BIO would copy each way once more: the transport receives
// straight into the input (TlsEngine::input_space()), and the output moves to the
// transport's send buffer without a copy when that is empty. Offered the socket
// (offer_kernel()), the BIO also takes OpenSSL's kTLS controls, as OpenSSL's socket BIO
// does: the send keys go to the kernel, and the records OpenSSL still makes after that
// (tickets, alerts) go to the socket as plaintext with their record type.
#pragma once

#include <openssl/bio.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "coro/tls_engine.hpp"

namespace corio::detail {

class SessionBuffers {
 public:
  SessionBuffers();
  SessionBuffers(const SessionBuffers&) = delete;
  SessionBuffers& operator=(const SessionBuffers&) = delete;

  /// A new BIO over these buffers, for SSL_set_bio (which takes it); nullptr if out of
  /// memory. The buffers must outlive it.
  BIO* make_bio();

  /// Copies `ciphertext` to the end of the input (growing it as needed).
  void feed(std::span<const char> ciphertext);
  /// Room for at least one full record at the end of the input (allocated with the
  /// session, uninitialised: a connection that only ever gets small records touches one
  /// page of it).
  std::span<char> input_space();
  void commit_input(std::size_t n) noexcept { in_end_ += n; }
  [[nodiscard]] std::size_t input_size() const noexcept { return in_end_ - in_begin_; }

  [[nodiscard]] std::size_t output_size() const noexcept { return out_.size() - out_taken_; }
  std::size_t take_output(std::span<char> to) noexcept;
  void take_output(std::string& to);

  /// Lets OpenSSL hand the send keys to the kernel through `socket` (see the top).
  void offer_kernel(KernelTlsSocket& socket) noexcept { kernel_ = &socket; }
  [[nodiscard]] bool kernel_offered() const noexcept { return kernel_ != nullptr; }
  /// Whether the kernel encrypts the sends now.
  [[nodiscard]] bool kernel_sends() const noexcept { return kernel_sends_; }
  /// Why the keys were not handed over, or why a record could not be sent: "" if
  /// neither happened.
  [[nodiscard]] const std::string& kernel_note() const noexcept { return kernel_note_; }

 private:
  static BIO_METHOD* method();
  static int write(BIO* bio, const char* data, std::size_t len, std::size_t* written);
  static int read(BIO* bio, char* data, std::size_t len, std::size_t* got);
  static long control(BIO* bio, int cmd, long num, void* ptr);
  // Makes room for `n` more bytes at the end of the input.
  void reserve_input(std::size_t n);
  // OpenSSL's BIO_flush(): with the kernel offered, every record so far must be on
  // the socket (OpenSSL flushes before it hands the keys over, and before each record
  // of another type than application data).
  long flush(BIO* bio) noexcept;
  // A record of record_type_ that OpenSSL wrote after the keys went to the kernel.
  int send_record(BIO* bio, const char* data, std::size_t len, std::size_t* written) noexcept;
  void note(std::string_view why) noexcept;

  std::unique_ptr<char[]> in_;
  std::size_t in_capacity_ = 0;
  std::size_t in_begin_ = 0;  // [in_begin_, in_end_) is ciphertext OpenSSL has not read
  std::size_t in_end_ = 0;
  std::string out_;  // records OpenSSL wrote; out_taken_ bytes of it are taken
  std::size_t out_taken_ = 0;
  KernelTlsSocket* kernel_ = nullptr;
  bool kernel_sends_ = false;
  unsigned char record_type_ = 0;  // the next write's, if not application data
  std::string kernel_note_;
};

}  // namespace corio::detail
