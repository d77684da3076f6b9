/* A plain UDP echo server in C, the way small daemons are written, for
 * lrp-run's process tests. It knows nothing of lrp.
 *
 *   plain-udp-echo PORT [--workers N] [--user NAME] [--pause-us US]
 *
 * --user NAME drops to that user (groups, gid, uid) before binding.
 * --workers N binds in the parent, then forks N workers that serve the
 *             inherited socket; the parent only waits for them.
 * --pause-us  sleeps this long after each datagram: a server slower than
 *             its load that leaves the CPUs to others.
 *
 * Prints "ready" on stderr once bound (and forked), and "served PID N" per
 * serving process when SIGTERM ends it. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig) {
  (void)sig;
  stop = 1;
}

static int drop_to(const char* name) {
  const struct passwd* pw = getpwnam(name);
  if (pw == NULL) return -1;
  if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) return -1;
  return 0;
}

static void pause_us(long us) {
  const struct timespec t = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&t, NULL);
}

/* Echoes until SIGTERM; a receive timeout lets it notice the signal. */
static void serve(int fd, long pause) {
  unsigned long served = 0;
  char buf[65536];
  while (!stop) {
    struct sockaddr_storage from;
    socklen_t len = sizeof(from);
    const ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr*)&from, &len);
    if (n < 0) continue;
    if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr*)&from, len) == n) ++served;
    if (pause > 0) pause_us(pause);
  }
  fprintf(stderr, "served %d %lu\n", (int)getpid(), served);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PORT [--workers N] [--user NAME] [--pause-us US]\n", argv[0]);
    return 2;
  }
  int workers = 0;
  long pause = 0;
  const char* user = NULL;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--workers") == 0)
      workers = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--user") == 0)
      user = argv[i + 1];
    else if (strcmp(argv[i], "--pause-us") == 0)
      pause = atol(argv[i + 1]);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  if (user != NULL && drop_to(user) != 0) {
    perror("drop privileges");
    return 1;
  }
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(argv[1]));
  if (fd < 0 || bind(fd, (struct sockaddr*)&addr, sizeof(addr)) != 0) {
    perror("bind");
    return 1;
  }
  struct timeval timeout = {0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (workers == 0) {
    fprintf(stderr, "ready\n");
    serve(fd, pause);
    return 0;
  }
  pid_t children[64];
  if (workers > 64) workers = 64;
  for (int i = 0; i < workers; ++i) {
    children[i] = fork();
    if (children[i] == 0) {
      serve(fd, pause);
      _exit(0);
    }
  }
  fprintf(stderr, "ready\n");
  const struct timespec tick = {0, 50000000};
  while (!stop) nanosleep(&tick, NULL);
  for (int i = 0; i < workers; ++i) kill(children[i], SIGTERM);
  for (int i = 0; i < workers; ++i) waitpid(children[i], NULL, 0);
  return 0;
}
