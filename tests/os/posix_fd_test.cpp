// os/posix_fd: every descriptor comes out close-on-exec and non-blocking (except the
// pipe asked to block). Built twice: posix_fd_test with the capabilities CMake found, and
// posix_fd_fallback_test with none of them, the fcntl() path macOS takes, so a Linux run
// covers both.
#include "os/posix_fd.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace corio::posix {
namespace {

bool nonblocking(int fd) {
  return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}
bool cloexec(int fd) {
  return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

TEST(PosixFdTest, OpenSocketIsNonBlockingAndCloseOnExec) {
  const int fd = open_socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  EXPECT_TRUE(nonblocking(fd));
  EXPECT_TRUE(cloexec(fd));
  ::close(fd);
}

TEST(PosixFdTest, BothEndsOfASocketPairAreNonBlockingAndCloseOnExec) {
  int fds[2] = {-1, -1};
  ASSERT_EQ(socket_pair(AF_UNIX, SOCK_STREAM, fds), 0) << std::strerror(errno);
  for (int fd : fds) {
    EXPECT_TRUE(nonblocking(fd));
    EXPECT_TRUE(cloexec(fd));
    ::close(fd);
  }
}

TEST(PosixFdTest, AnAcceptedSocketIsNonBlockingAndCloseOnExec) {
  const int listener = open_socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0) << std::strerror(errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  // A blocking client: the kernel completes a loopback handshake without the listener.
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  pollfd p{listener, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10'000), 1);
  sockaddr_in peer{};
  socklen_t peer_len = sizeof peer;
  const int fd = accept_socket(listener, reinterpret_cast<sockaddr*>(&peer), &peer_len);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  EXPECT_EQ(peer.sin_family, AF_INET);
  EXPECT_TRUE(nonblocking(fd));
  EXPECT_TRUE(cloexec(fd));
  ::close(fd);
  ::close(client);
  ::close(listener);
}

TEST(PosixFdTest, AcceptWithNothingWaitingFailsWithEagain) {
  const int listener = open_socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  errno = 0;
  EXPECT_EQ(accept_socket(listener, nullptr, nullptr), -1);
  EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
  ::close(listener);
}

TEST(PosixFdTest, PipesAreCloseOnExecAndOnlyOpenPipeIsNonBlocking) {
  int fds[2] = {-1, -1};
  ASSERT_EQ(open_pipe(fds), 0) << std::strerror(errno);
  for (int fd : fds) {
    EXPECT_TRUE(nonblocking(fd));
    EXPECT_TRUE(cloexec(fd));
    ::close(fd);
  }
  ASSERT_EQ(open_blocking_pipe(fds), 0) << std::strerror(errno);
  for (int fd : fds) {
    EXPECT_FALSE(nonblocking(fd));
    EXPECT_TRUE(cloexec(fd));
    ::close(fd);
  }
}

TEST(PosixFdTest, ARefusedSocketReturnsMinusOneWithErrno) {
  errno = 0;
  EXPECT_EQ(open_socket(-1, SOCK_STREAM, 0), -1);
  EXPECT_NE(errno, 0);
}

}  // namespace
}  // namespace corio::posix
