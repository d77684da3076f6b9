#include "lrp/link_monitor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>

namespace lrp {

Result<std::unique_ptr<LinkMonitor>> LinkMonitor::start(const std::string& ifname,
                                                        const std::string& program,
                                                        Handler on_change) {
  std::unique_ptr<LinkMonitor> m(new LinkMonitor());
  auto watcher = LinkWatcher::open();
  if (!watcher) return watcher.error();
  m->watcher_ = std::move(watcher.value());
  // After the watcher: a change between the two is then reported, not lost.
  auto info = query_interface(ifname);
  if (!info) return info.error();
  m->ifindex_ = info->ifindex;
  m->ifname_ = ifname;
  m->program_ = program;
  m->on_change_ = std::move(on_change);
  m->up_ = info->up;
  m->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m->stop_fd_ < 0) return errno_error("create an eventfd to watch " + ifname);
  m->thread_ = std::thread([p = m.get()] { p->run(); });
  return m;
}

LinkMonitor::Handler LinkMonitor::stop_on_delete() {
  return [](LinkState state) {
    if (state == LinkState::Deleted) std::raise(SIGTERM);
  };
}

LinkMonitor::~LinkMonitor() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (stop_fd_ >= 0) close(stop_fd_);
}

void LinkMonitor::report(const LinkEvent& event) {
  const char* p = program_.c_str();
  const char* name = ifname_.c_str();
  switch (event.state) {
    case LinkState::Down:
      ++downs_;
      up_ = false;
      std::fprintf(stderr,
                   "%s: interface %s is down (or lost its carrier): no traffic until it is up\n", p,
                   name);
      break;
    case LinkState::Up:
      up_ = true;
      std::fprintf(stderr, "%s: interface %s is up again: serving\n", p, name);
      break;
    case LinkState::Deleted:
      deleted_ = true;
      std::fprintf(stderr, "%s: interface %s was deleted: stopping\n", p, name);
      break;
  }
  std::fflush(stderr);
}

void LinkMonitor::run() {
  while (!deleted_) {
    pollfd fds[2] = {{watcher_.fd(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "%s: watching %s stopped: poll: %s\n", program_.c_str(), ifname_.c_str(),
                   std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    auto events = watcher_.poll_events();
    if (!events) {
      std::fprintf(stderr, "%s: watching %s stopped: %s\n", program_.c_str(), ifname_.c_str(),
                   events.error().message().c_str());
      return;
    }
    for (const LinkEvent& e : events.value()) {
      if (e.ifindex != ifindex_) continue;
      report(e);
      if (on_change_) on_change_(e.state);
      if (e.state == LinkState::Deleted) break;
    }
  }
}

}  // namespace lrp
