/* uv_echo: the libuv peer (Debian libuv1-dev, 1.44). One loop, one uv_tcp_t per
 * connection reading into a buffer the connection owns. Each read is answered with
 * uv_try_write() (one send(), no request to allocate); only what the socket does not
 * take goes through uv_write() with a copy, and reading pauses until it is written.
 *
 *   uv_echo [--host H] [--port N]
 */
#define _GNU_SOURCE
#include <uv.h>

#include "peer_common.h"

enum { kBufferSize = 64 * 1024 };

struct conn {
  uv_tcp_t tcp; /* first member: a uv_handle_t* is a struct conn* */
  char buf[kBufferSize];
};

struct pending_write {
  uv_write_t req;
  char data[];
};

static void on_close(uv_handle_t* h) {
  free(h);
}

static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* out) {
  (void)suggested;
  struct conn* c = (struct conn*)h;
  *out = uv_buf_init(c->buf, kBufferSize);
}

static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);

static void on_written(uv_write_t* req, int status) {
  uv_stream_t* s = req->handle;
  free(req);
  if (status < 0) {
    if (!uv_is_closing((uv_handle_t*)s)) uv_close((uv_handle_t*)s, on_close);
    return;
  }
  uv_read_start(s, on_alloc, on_read);
}

static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  if (n < 0) {
    uv_close((uv_handle_t*)s, on_close);
    return;
  }
  if (n == 0) return; /* EAGAIN */
  uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
  int sent = uv_try_write(s, &out, 1);
  if (sent == n) return;
  if (sent < 0 && sent != UV_EAGAIN) {
    uv_close((uv_handle_t*)s, on_close);
    return;
  }
  size_t done = sent < 0 ? 0 : (size_t)sent;
  size_t rest = (size_t)n - done;
  struct pending_write* w = malloc(sizeof *w + rest);
  if (!w) {
    uv_close((uv_handle_t*)s, on_close);
    return;
  }
  memcpy(w->data, buf->base + done, rest);
  uv_buf_t wb = uv_buf_init(w->data, (unsigned)rest);
  uv_read_stop(s); /* backpressure: no more reads until the peer takes this */
  if (uv_write(&w->req, s, &wb, 1, on_written) < 0) {
    free(w);
    uv_close((uv_handle_t*)s, on_close);
  }
}

static void on_connection(uv_stream_t* server, int status) {
  if (status < 0) return;
  struct conn* c = malloc(sizeof *c);
  if (!c) return;
  uv_tcp_init(server->loop, &c->tcp);
  if (uv_accept(server, (uv_stream_t*)&c->tcp) < 0) {
    uv_close((uv_handle_t*)&c->tcp, on_close);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t*)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t* h, int signum) {
  (void)signum;
  uv_stop(h->loop);
}

int main(int argc, char** argv) {
  struct peer_options opt = peer_parse(argc, argv);
  uv_loop_t* loop = uv_default_loop();

  /* The listening socket is made by the code the C peers share; libuv adopts it. */
  int lfd = peer_listen(opt, 1);
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  if (uv_tcp_open(&server, lfd) < 0) peer_die("uv_tcp_open");
  int rc = uv_listen((uv_stream_t*)&server, SOMAXCONN, on_connection);
  if (rc < 0) {
    fprintf(stderr, "uv_listen: %s\n", uv_strerror(rc));
    return 1;
  }

  uv_signal_t sigint, sigterm;
  uv_signal_init(loop, &sigint);
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0; /* stopped by a signal; the OS reclaims the rest */
}
