// Descriptor hygiene on every backend: every fd corio opens is close-on-exec (a child
// started with exec must not inherit sockets or the backend's kernel objects), and none
// is left open once the loop and its sockets are gone.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <set>
#include <string>

#include "backend_param.hpp"
#include "corio/corio.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

std::set<int> open_fds() {
  std::set<int> fds;
  // /dev/fd lists the process's descriptors on Linux (a link to /proc/self/fd), macOS and
  // FreeBSD (with fdescfs mounted) alike.
  DIR* d = ::opendir("/dev/fd");
  if (d == nullptr) return fds;
  const int own = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const int fd = std::stoi(e->d_name);
    if (fd != own) fds.insert(fd);
  }
  ::closedir(d);
  return fds;
}

class FdHygieneTest : public BackendTest {};

TEST_P(FdHygieneTest, EveryDescriptorIsCloseOnExecAndNoneOutlivesTheLoop) {
  const std::set<int> before = open_fds();
  std::set<int> during;
  auto main = [](std::set<int>& during) -> Coro<void> {
    // A bit of everything that opens descriptors: listener, accepted and connected
    // sockets, a UDP socket, a socket pair, signal delivery, the resolver's thread pool.
    Socket listener = listen_on(Address::loopback(AddressFamily::ipv4, 0));
    auto accept_one = [](const Socket& l) -> Coro<Socket> { co_return co_await l.accept(); };
    Task<Socket> accepted = create_task(accept_one(listener));
    Socket client = co_await connect(listener.local_address());
    Socket server = co_await accepted;
    co_await client.send_all("x");
    char c;
    EXPECT_EQ(co_await server.recv(&c, 1), 1u);
    Socket udp = Socket::udp();
    auto pair = Socket::pair();
    std::vector<Address> resolved = co_await resolve("localhost", 80);
    EXPECT_FALSE(resolved.empty());
    add_signal_handler(SIGUSR2, [] {});
    co_await sleep(1ms);
    during = open_fds();
    remove_signal_handler(SIGUSR2);
  };
  run(main(during));
  for (int fd : during) {
    if (before.count(fd) != 0) continue;
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0) continue;  // closed since (the listing's own descriptor, ...)
    char path[64], target[256] = {};
    std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    (void)::readlink(path, target, sizeof target - 1);
    EXPECT_TRUE((flags & FD_CLOEXEC) != 0) << "fd " << fd << " (" << target << ") lacks FD_CLOEXEC";
  }
  // The signal self-pipe is process-wide by design (opened once, reused by every loop);
  // everything else must be gone.
  std::set<int> after = open_fds();
  std::set<int> leaked;
  for (int fd : after) {
    if (before.count(fd) == 0) leaked.insert(fd);
  }
  EXPECT_LE(leaked.size(), 2u) << "descriptors left open after the loop closed";
  // A second round must not add any more.
  std::set<int> ignored;
  run(main(ignored));
  EXPECT_EQ(open_fds(), after) << "descriptors leak per loop";
}

CORIO_INSTANTIATE_BACKEND_SUITE(FdHygieneTest);

}  // namespace
}  // namespace corio
