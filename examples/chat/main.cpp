// chat: a line-based chat room on asyncio-style streams (start_server, StreamReader,
// StreamWriter). Each client first sends its nickname; every line after that goes to
// everybody else. `/nick NAME` renames, `/quit` leaves.
//
//   chat [--host H] [--port N] [--grace S] [--backend NAME]
//
// A client that disconnects, resets, or reads too slowly is dropped without disturbing
// the broadcast to the others: a broadcast only queues bytes in each writer, and a
// writer whose queue passes kMaxBacklog is cut off instead of growing without bound.
#include <csignal>
#include <cstdio>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "corio/corio.hpp"
#include "options.hpp"
#include "server.hpp"

namespace {

using corio::Coro;

constexpr std::size_t kMaxBacklog = 1 << 20;  // queued bytes before a client is dropped
constexpr std::size_t kMaxLine = 4096;

struct Member {
  std::string nick;
  corio::StreamWriter writer;
};

class Room {
 public:
  std::list<Member>::iterator join(std::string nick, corio::StreamWriter w) {
    members_.push_back(Member{std::move(nick), std::move(w)});
    return std::prev(members_.end());
  }
  void leave(std::list<Member>::iterator it) { members_.erase(it); }

  /// Queues `line` for everyone except `from`; never waits, so one slow or dead client
  /// cannot hold the others up.
  void broadcast(std::string_view line, const Member* from) {
    for (Member& m : members_) {
      if (&m == from || m.writer.is_closing()) continue;
      if (m.writer.write_buffer_size() > kMaxBacklog) {
        m.writer.abort();  // it stopped reading: drop it rather than buffer forever
        continue;
      }
      try {
        m.writer.write(line);
      } catch (const std::exception&) {
        m.writer.abort();  // the peer is gone; its own handler will notice and leave
      }
    }
  }
  [[nodiscard]] std::size_t size() const noexcept { return members_.size(); }

 private:
  std::list<Member> members_;
};

// Strips the line ending; empty optional at end of input.
Coro<std::optional<std::string>> next_line(corio::StreamReader& r) {
  std::string line = co_await r.readline();
  if (line.empty()) co_return std::nullopt;  // EOF
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.pop_back();
  co_return line;
}

Coro<void> client(Room& room, corio::StreamReader r, corio::StreamWriter w) {
  w.write("Welcome! Your nickname?\n");
  std::optional<std::string> nick = co_await next_line(r);
  if (!nick || nick->empty()) co_return;
  auto me = room.join(*nick, w);
  // However the handler ends (EOF, error, or cancelled by the server's shutdown), the
  // member leaves and the others hear it.
  struct Leave {
    Room& room;
    std::list<Member>::iterator me;
    ~Leave() {
      const std::string bye = "* " + me->nick + " left\n";
      me->writer.close();
      room.leave(me);
      room.broadcast(bye, nullptr);
    }
  } leave{room, me};
  room.broadcast("* " + *nick + " joined\n", &*me);
  w.write("* " + std::to_string(room.size()) + " here\n");
  try {
    for (;;) {
      std::optional<std::string> line = co_await next_line(r);
      if (!line || *line == "/quit") break;
      if (line->starts_with("/nick ")) {
        std::string renamed = line->substr(6);
        room.broadcast("* " + me->nick + " is now " + renamed + "\n", &*me);
        me->nick = std::move(renamed);
        continue;
      }
      room.broadcast("<" + me->nick + "> " + *line + "\n", &*me);
    }
  } catch (const std::exception&) {
    // reset, oversized line: this client leaves, the room goes on
  }
}

Coro<int> chat_main(examples::ServerOptions options) {
  std::printf("backend: %s\n", std::string(corio::current_backend()).c_str());
  Room room;
  corio::ServerOptions so;
  so.limit = kMaxLine;
  corio::Server server = co_await corio::start_server(
      [&room](corio::StreamReader r, corio::StreamWriter w) {
        return client(room, std::move(r), std::move(w));
      },
      options.host, options.port, so);
  std::printf("listening on %s\n", server.addresses().front().to_string().c_str());
  const int sig = co_await corio::wait_signal(SIGINT, SIGTERM);
  std::printf("chat: signal %d, %zu member(s), %.3g s grace\n", sig, room.size(), options.grace);
  room.broadcast("* the server is shutting down\n", nullptr);
  co_await server.shutdown(
      std::chrono::duration_cast<corio::Duration>(std::chrono::duration<double>(options.grace)));
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
  examples::ServerOptions options;
  options.port = 8890;
  examples::CommandLine cli("chat", "Line-based chat room. SIGINT/SIGTERM stop it.");
  examples::add_server_flags(cli, options);
  if (std::optional<int> exit_code = cli.parse(argc, argv)) return *exit_code;
  try {
    return corio::run(chat_main(options), corio::RunOptions{.backend = options.backend});
  } catch (const corio::BackendError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chat: %s\n", e.what());
    return 1;
  }
}
