// Conformance scenarios of readiness (EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE,
// EPOLLOUT), signals (per-thread EINTR, SA_RESTART, SO_RCVTIMEO, stop and
// continue), closing (close_range, closefrom), fd passing over a Unix
// socket, and io_uring.
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "tests/preload/conformance_util.h"

namespace probe::conf {

namespace {

std::string events_text(int n, const epoll_event* ev) {
  if (n < 0) return rv(n);
  std::string s = std::to_string(n);
  for (int i = 0; i < n; ++i) {
    s += " [" + std::to_string(ev[i].data.u64) + ":";
    if (ev[i].events & EPOLLIN) s += "IN";
    if (ev[i].events & EPOLLOUT) s += "OUT";
    if (ev[i].events & EPOLLERR) s += "ERR";
    s += "]";
  }
  return s;
}

std::string wait_text(int ep, int timeout_ms) {
  epoll_event ev[4];
  const int n = epoll_wait(ep, ev, 4, timeout_ms);
  return events_text(n, ev);
}

int served_socket(uint16_t port) {
  const int s = udp(AF_INET);
  bind_to(s, kServer4, port);
  return s;
}

int add(int ep, int fd, uint32_t events, uint64_t data, int op = EPOLL_CTL_ADD) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = data;
  return epoll_ctl(ep, op, fd, &ev);
}

void readiness(uint16_t p) {
  Peer peer(AF_INET, p + 500);
  {
    const int s = served_socket(p);
    served("ep.et", s);
    const int ep = epoll_create1(0);
    result("ep.et/add", rv(add(ep, s, EPOLLIN | EPOLLET, 1)));
    result("ep.et/idle", wait_text(ep, 0));
    peer.send(kServer4, p, "1");
    result("ep.et/arrival", wait_text(ep, 1000));
    result("ep.et/no-new-edge", wait_text(ep, 100));
    peer.send(kServer4, p, "1b");
    result("ep.et/arrival-while-unread", wait_text(ep, 1000));
    char buf[8];
    result("ep.et/drain", join({rv(recv(s, buf, sizeof(buf), 0)), rv(recv(s, buf, sizeof(buf), 0)),
                                rv(recv(s, buf, sizeof(buf), MSG_DONTWAIT))}));
    peer.send(kServer4, p, "2");
    result("ep.et/next-arrival", wait_text(ep, 1000));
    recv(s, buf, sizeof(buf), MSG_DONTWAIT);
    close(ep);
    close(s);
  }
  {
    const int s = served_socket(p + 1);
    served("ep.oneshot", s);
    const int ep = epoll_create1(0);
    result("ep.oneshot/add", rv(add(ep, s, EPOLLIN | EPOLLONESHOT, 2)));
    peer.send(kServer4, p + 1, "1");
    result("ep.oneshot/first", wait_text(ep, 1000));
    result("ep.oneshot/disarmed", wait_text(ep, 100));
    result("ep.oneshot/rearm",
           join({rv(add(ep, s, EPOLLIN | EPOLLONESHOT, 2, EPOLL_CTL_MOD)), wait_text(ep, 1000)}));
    close(ep);
    const int ep2 = epoll_create1(0);
    result("ep.oneshot-out/add", rv(add(ep2, s, EPOLLOUT | EPOLLONESHOT, 3)));
    result("ep.oneshot-out/first", wait_text(ep2, 1000));
    result("ep.oneshot-out/disarmed", wait_text(ep2, 100));
    result("ep.oneshot-out/rearm", join({rv(add(ep2, s, EPOLLOUT | EPOLLONESHOT, 3, EPOLL_CTL_MOD)),
                                         wait_text(ep2, 1000)}));
    close(ep2);
    close(s);
  }
  {
    const int s = served_socket(p + 2);
    served("ep.out", s);
    const int ep = epoll_create1(0);
    result("ep.out-et/add", rv(add(ep, s, EPOLLOUT | EPOLLET, 4)));
    result("ep.out-et/first", wait_text(ep, 1000));
    result("ep.out-et/again", wait_text(ep, 100));
    result("ep.out-level/mod", rv(add(ep, s, EPOLLOUT, 4, EPOLL_CTL_MOD)));
    result("ep.out-level/first", wait_text(ep, 1000));
    result("ep.out-level/again", wait_text(ep, 1000));
    close(ep);
    close(s);
  }
  {
    const int s = served_socket(p + 3);
    served("ep.exclusive", s);
    const int ep = epoll_create1(0);
    result("ep.exclusive/add", rv(add(ep, s, EPOLLIN | EPOLLEXCLUSIVE, 5)));
    peer.send(kServer4, p + 3, "x");
    result("ep.exclusive/event", wait_text(ep, 1000));
    result("ep.exclusive/mod", rv(add(ep, s, EPOLLIN, 5, EPOLL_CTL_MOD)));
    result("ep.exclusive/del", rv(epoll_ctl(ep, EPOLL_CTL_DEL, s, nullptr)));
    result("ep.exclusive/with-oneshot", rv(add(ep, s, EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 5)));
    close(ep);
    close(s);
  }
}

std::atomic<int> handled{0};
void on_signal(int) {
  handled.fetch_add(1);
}

void install(int sig, bool restart) {
  struct sigaction act {};
  act.sa_handler = on_signal;
  sigemptyset(&act.sa_mask);
  act.sa_flags = restart ? SA_RESTART : 0;
  sigaction(sig, &act, nullptr);
}

// A thread blocked in a receive on s; its result once it returns.
struct Blocked {
  std::atomic<bool> done{false};
  std::string outcome;
  pthread_t thread{};
  std::thread runner;
  explicit Blocked(int s, bool use_poll = false) {
    std::atomic<bool> started{false};
    runner = std::thread([this, s, use_poll, &started] {
      thread = pthread_self();
      started = true;
      if (use_poll) {
        pollfd pf{s, POLLIN, 0};
        outcome = rv(poll(&pf, 1, 10000));
      } else {
        char buf[32];
        const long r = recv(s, buf, sizeof(buf), 0);
        outcome = r >= 0 ? rv(r) + " " + std::string(buf, static_cast<size_t>(r)) : rv(r);
      }
      done = true;
    });
    while (!started) sleep_ms(1);
    sleep_ms(100);
  }
  std::string finish(int timeout_ms) {
    const int64_t end = now_ms() + timeout_ms;
    while (!done && now_ms() < end) sleep_ms(5);
    return done ? outcome : "still blocked";
  }
  ~Blocked() {
    if (runner.joinable()) runner.join();
  }
};

void signals(uint16_t p) {
  Peer peer(AF_INET, p + 500);
  install(SIGUSR1, false);
  install(SIGUSR2, true);
  {
    const int s = served_socket(p);
    served("sig.thread", s);
    Blocked b(s);
    pthread_kill(pthread_self(), SIGUSR1);  // handled here, not in the blocked thread
    sleep_ms(200);
    result("sig.thread/other-thread", b.done ? "returned " + b.outcome : "still blocked");
    pthread_kill(b.thread, SIGUSR1);
    result("sig.thread/own-thread", b.finish(2000));
    close(s);
  }
  {
    const int s = served_socket(p + 1);
    served("sig.restart", s);
    Blocked b(s);
    pthread_kill(b.thread, SIGUSR2);
    sleep_ms(200);
    result("sig.restart/after-signal", b.done ? "returned " + b.outcome : "still blocked");
    peer.send(kServer4, p + 1, "restarted");
    result("sig.restart/data", b.finish(2000));
    close(s);
  }
  {
    const int s = served_socket(p + 2);
    timeval tv{5, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    served("sig.restart-timeout", s);
    Blocked b(s);
    pthread_kill(b.thread, SIGUSR2);
    result("sig.restart-timeout", b.finish(2000));
    close(s);
  }
  {
    const int s = served_socket(p + 3);
    served("sig.stop-continue", s);
    Blocked b(s);
    const pid_t self = getpid();
    const pid_t helper = fork();
    if (helper == 0) {
      kill(self, SIGSTOP);
      usleep(100'000);
      kill(self, SIGCONT);
      _exit(0);
    }
    waitpid(helper, nullptr, 0);
    sleep_ms(200);
    result("sig.stop-continue/after", b.done ? "returned " + b.outcome : "still blocked");
    peer.send(kServer4, p + 3, "resumed");
    result("sig.stop-continue/data", b.finish(2000));
    close(s);
  }
  {
    const int s = served_socket(p + 4);
    served("sig.poll", s);
    Blocked b(s, /*use_poll=*/true);
    pthread_kill(b.thread, SIGUSR2);
    result("sig.poll-restart-handler", b.finish(2000));
    close(s);
  }
}

long send_text(int fd, const std::string& addr, uint16_t port, const std::string& payload) {
  socklen_t len;
  sockaddr_storage to = sockaddr_of(addr, port, &len);
  return sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), len);
}

bool open_fd(int fd) {
  return fcntl(fd, F_GETFD) >= 0;
}

std::string echo_check(int s, Peer& peer, uint16_t port) {
  peer.send(kServer4, port, "alive");
  if (!readable(s, 1000)) return "nothing";
  char buf[16];
  const long r = recv(s, buf, sizeof(buf), 0);
  return r > 0 ? std::string(buf, static_cast<size_t>(r)) : rv(r);
}

std::string poll_text(int fd, short events) {
  pollfd pf{fd, events, 0};
  const int n = poll(&pf, 1, 0);
  std::string s = rv(n);
  const std::pair<short, const char*> bits[] = {
      {POLLIN, "IN"}, {POLLOUT, "OUT"}, {POLLERR, "ERR"}, {POLLHUP, "HUP"}, {POLLRDHUP, "RDHUP"}};
  for (const auto& [bit, name] : bits)
    if ((pf.revents & bit) != 0) s += std::string(" ") + name;
  return s;
}

void closing(uint16_t p) {
  Peer peer(AF_INET, p + 500);
  {
    // shutdown() wakes a thread blocked in a receive (a common way to stop one).
    const int s = served_socket(p + 5);
    served("close.shutdown", s);
    Blocked b(s);
    result("close.shutdown/call", rv(shutdown(s, SHUT_RDWR)));
    result("close.shutdown/blocked-receive", b.finish(2000));
    result("close.shutdown/poll", poll_text(s, POLLIN | POLLOUT | POLLRDHUP));
    char buf[16];
    result("close.shutdown/recv", rv(recv(s, buf, sizeof(buf), MSG_DONTWAIT)));
    peer.send(kServer4, p + 5, "late");
    sleep_ms(200);
    result("close.shutdown/recv-after-datagram", rv(recv(s, buf, sizeof(buf), 0)));
    result("close.shutdown/recv-empty", recv_line(s, 0, 16, 64));
    result("close.shutdown/send",
           join({rv(send_text(s, kClient4, p + 500, "sent")), Peer::summary(peer.drain())}));
    close(s);
  }
  {
    const int s = served_socket(p + 7);
    served("close.shutdown-rd", s);
    result("close.shutdown-rd/call", rv(shutdown(s, SHUT_RD)));
    result("close.shutdown-rd/poll", poll_text(s, POLLIN | POLLOUT | POLLRDHUP));
    close(s);
  }
  {
    const int s = served_socket(p + 6);
    socklen_t len;
    sockaddr_storage to = sockaddr_of(kClient4, p + 1500, &len);
    connect(s, reinterpret_cast<sockaddr*>(&to), len);
    served("close.icmp-poll", s);
    send(s, "x", 1, 0);
    sleep_ms(300);
    result("close.icmp-poll", poll_text(s, POLLIN));
    close(s);
  }
  {
    const int s = served_socket(p);
    served("close.range", s);
    result("close.range/close",
           rv(close_range(static_cast<unsigned>(s), static_cast<unsigned>(s), 0)));
    result("close.range/gone", open_fd(s) ? "open" : "closed");
    int pipes[2];
    const int r = pipe(pipes);
    const int w = write(pipes[1], "pipe", 4);
    char buf[8] = {};
    const int got = static_cast<int>(read(pipes[0], buf, sizeof(buf)));
    result("close.range/number-reused", join({rv(r), rv(w), rv(got), buf}));
    close(pipes[0]);
    close(pipes[1]);
    const int again = served_socket(p);
    result("close.range/port-free", again >= 0 && open_fd(again) ? "bound again" : "not bound");
    close(again);
  }
  {
    // Two sockets at the highest numbers; closefrom takes both and nothing else.
    const int a = served_socket(p + 1), b = served_socket(p + 2);
    dup2(a, 900);
    dup2(b, 901);
    close(a);
    close(b);
    served("close.from", 900);
    closefrom(900);
    result("close.from/gone", join({std::string(open_fd(900) ? "open" : "closed"),
                                    (open_fd(901) ? "open" : "closed")}));
    const int fresh = served_socket(p + 1);
    served("close.from-after", fresh);
    result("close.from/new-socket-works", echo_check(fresh, peer, p + 1));
    close(fresh);
    const int syscall_range = served_socket(p + 3);
    dup2(syscall_range, 902);
    close(syscall_range);
    result("close.range-syscall", join({rv(syscall(SYS_close_range, 902u, 902u, 0u)),
                                        (open_fd(902) ? "open" : "closed")}));
  }
  {
    const int s = served_socket(p + 4);
    served("close.range-cloexec", s);
    result("close.range-cloexec",
           join({rv(close_range(static_cast<unsigned>(s), static_cast<unsigned>(s),
                                CLOSE_RANGE_CLOEXEC)),
                 ((fcntl(s, F_GETFD) & FD_CLOEXEC) != 0 ? "cloexec" : "no cloexec"),
                 echo_check(s, peer, p + 4)}));
    close(s);
  }
}

int pass_fd(int via, int fd) {
  char byte = 'f';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return static_cast<int>(sendmsg(via, &msg, 0));
}

int receive_fd(int via) {
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  if (recvmsg(via, &msg, 0) < 0) return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == nullptr || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

std::string names_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return rv(-1);
  return addr_text(reinterpret_cast<sockaddr*>(&ss), len);
}

void fd_passing(uint16_t p) {
  Peer peer(AF_INET, p + 500);
  {
    const int s = served_socket(p);
    served("fdpass.self", s);
    int pair[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, pair);
    result("fdpass.self/send", rv(pass_fd(pair[0], s)));
    const int r = receive_fd(pair[1]);
    close(s);
    served("fdpass.self-received", r);
    result("fdpass.self/name", names_of(r));
    result("fdpass.self/receive", echo_check(r, peer, p));
    socklen_t len;
    sockaddr_storage to = sockaddr_of(kClient4, p + 500, &len);
    result("fdpass.self/send-from",
           join({rv(sendto(r, "back", 4, 0, reinterpret_cast<sockaddr*>(&to), len)),
                 Peer::summary(peer.drain())}));
    close(r);
    close(pair[0]);
    close(pair[1]);
  }
  {
    const int s = served_socket(p + 1);
    served("fdpass.child", s);
    int pair[2], report[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, pair);
    (void)!pipe(report);
    const pid_t child = fork();
    if (child == 0) {
      const int r = receive_fd(pair[1]);
      std::string outcome = "no fd";
      if (r >= 0 && readable(r, 3000)) {
        char buf[32];
        sockaddr_storage from{};
        socklen_t len = sizeof(from);
        const long n = recvfrom(r, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
        outcome = n > 0 ? "got " + std::string(buf, static_cast<size_t>(n)) : rv(n);
        sendto(r, "child-reply", 11, 0, reinterpret_cast<sockaddr*>(&from), len);
      } else if (r >= 0) {
        outcome = "nothing arrived";
      }
      (void)!write(report[1], outcome.data(), outcome.size());
      _exit(0);
    }
    result("fdpass.child/send", rv(pass_fd(pair[0], s)));
    close(s);
    sleep_ms(200);
    peer.send(kServer4, p + 1, "to-child");
    char buf[64] = {};
    pollfd pf{report[0], POLLIN, 0};
    poll(&pf, 1, 5000);
    (void)!read(report[0], buf, sizeof(buf) - 1);
    waitpid(child, nullptr, 0);
    result("fdpass.child/child", buf);
    result("fdpass.child/reply", Peer::summary(peer.drain()));
    close(pair[0]);
    close(pair[1]);
    close(report[0]);
    close(report[1]);
  }
}

void io_uring(uint16_t p) {
  Peer peer(AF_INET, p + 500);
  const int s = served_socket(p);
  served("iouring.before", s);
  io_uring_params params{};
  const long ring = syscall(SYS_io_uring_setup, 4, &params);
  result("iouring.setup", ring >= 0 ? "ring" : rv(ring));
  served("iouring.after", s);
  result("iouring.socket-is-socket", is_socket(s) ? "socket" : "not a socket");
  result("iouring.socket-works", echo_check(s, peer, p));
  const int later = served_socket(p + 1);
  served("iouring.later", later);
  result("iouring.later-works", echo_check(later, peer, p + 1));
  close(later);
  close(s);
  if (ring >= 0) close(static_cast<int>(ring));
}

}  // namespace

void misc_scenarios() {
  readiness(9400);
  signals(9410);
  closing(9420);
  fd_passing(9430);
}

// Last: once the process has a ring, nothing is taken over any more.
void io_uring_scenarios() {
  io_uring(9440);
}

}  // namespace probe::conf
