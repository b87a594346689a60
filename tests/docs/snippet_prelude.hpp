// What the docs' code fragments use without declaring it (extract_snippets.py puts each
// fragment in a coroutine after this header; `ctx` is that coroutine's parameter).
#pragma once

#include <corio/corio.hpp>

#include <string>

/// The connection handler the server fragments pass to start_server.
inline corio::Coro<void> handler(corio::StreamReader reader, corio::StreamWriter writer) {
  std::string line = co_await reader.readline();
  writer.write(line);
  co_await writer.drain();
}
