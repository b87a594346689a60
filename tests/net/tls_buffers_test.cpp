// The TLS session's ciphertext buffers (coro/tls_openssl_bio.hpp) through the BIO
// OpenSSL uses: bytes come out in order however receives, copies and partial reads
// interleave, the input grows past its first 64 KiB when a feed needs it, an empty input
// reads as "retry" (not EOF), and the output moves by swap or append without loss.
#include <gtest/gtest.h>
#include <openssl/bio.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "coro/tls_openssl_bio.hpp"

namespace corio::detail {
namespace {

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>((i * 131 + seed) % 251);
  return s;
}

struct Bio {
  BIO* bio;
  explicit Bio(SessionBuffers& b) : bio(b.make_bio()) {}
  ~Bio() { BIO_free(bio); }
  Bio(const Bio&) = delete;
  Bio& operator=(const Bio&) = delete;
};

TEST(TlsSessionBuffers, InputKeepsItsOrderAcrossReceivesFeedsAndPartialReads) {
  SessionBuffers buffers;
  Bio b(buffers);
  ASSERT_NE(b.bio, nullptr);
  const std::string data = pattern(400 * 1024, 7);
  std::string out;
  std::size_t in = 0;
  std::size_t step = 0;
  std::vector<char> chunk(70 * 1024);
  while (out.size() < data.size()) {
    ++step;
    if (in < data.size()) {
      if (step % 3 == 0) {
        // A feed larger than the first allocation: the input grows, keeping what is unread.
        const std::size_t n = std::min<std::size_t>(data.size() - in, 90 * 1024);
        buffers.feed({data.data() + in, n});
        in += n;
      } else {
        std::span<char> room = buffers.input_space();
        ASSERT_GE(room.size(), 16u * 1024 + 261);  // a full record always fits
        const std::size_t n = std::min({room.size(), data.size() - in, step * 997});
        std::memcpy(room.data(), data.data() + in, n);
        buffers.commit_input(n);
        in += n;
      }
    }
    // OpenSSL's reads: a 5-byte header, then a body of some size; not everything each time.
    const int want = step % 2 == 0 ? 5 : static_cast<int>(1 + (step * 7919) % chunk.size());
    std::size_t got = 0;
    for (int reads = 0; reads < 2; ++reads) {
      if (BIO_read_ex(b.bio, chunk.data(), static_cast<std::size_t>(want), &got) != 1) break;
      out.append(chunk.data(), got);
    }
    EXPECT_EQ(static_cast<std::size_t>(BIO_pending(b.bio)), buffers.input_size());
  }
  EXPECT_TRUE(out == data);
  std::size_t got = 0;
  EXPECT_NE(BIO_read_ex(b.bio, chunk.data(), 1, &got), 1);
  EXPECT_TRUE(BIO_should_retry(b.bio)) << "an empty input is 'try again', not the end";
  EXPECT_TRUE(BIO_should_read(b.bio));
}

TEST(TlsSessionBuffers, OutputMovesBySwapOrAppendAndPartialTakesInOrder) {
  SessionBuffers buffers;
  Bio b(buffers);
  const std::string a = pattern(20000, 1);
  const std::string c = pattern(30000, 2);
  ASSERT_EQ(BIO_write(b.bio, a.data(), static_cast<int>(a.size())), static_cast<int>(a.size()));
  EXPECT_EQ(BIO_flush(b.bio), 1);
  EXPECT_EQ(static_cast<std::size_t>(BIO_wpending(b.bio)), a.size());
  std::string sent;
  buffers.take_output(sent);  // into an empty string: a swap
  EXPECT_TRUE(sent == a);
  EXPECT_EQ(buffers.output_size(), 0u);

  ASSERT_EQ(BIO_write(b.bio, c.data(), static_cast<int>(c.size())), static_cast<int>(c.size()));
  char head[100];
  EXPECT_EQ(buffers.take_output(head), sizeof head);  // part of it, then the rest appended
  EXPECT_EQ(std::string(head, sizeof head), c.substr(0, sizeof head));
  buffers.take_output(sent);
  EXPECT_TRUE(sent == a + c.substr(sizeof head));
  EXPECT_EQ(buffers.output_size(), 0u);
  buffers.take_output(sent);  // nothing waiting: nothing changes
  EXPECT_EQ(sent.size(), a.size() + c.size() - sizeof head);
  EXPECT_EQ(buffers.take_output(head), 0u);
}

}  // namespace
}  // namespace corio::detail
