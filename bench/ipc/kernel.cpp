// The same 2,848 bytes through the kernel's transports and a locked shared buffer:
//   BM_ObsOneWay/pipe, unix_socket, posix_mq   one message per event
//   BM_ObsOneWay/mutex_shm                     a process-shared mutex + condvar over one buffer
#include "harness.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>

namespace marllb::bench::ipc {

bool read_full(int fd, void *buf, std::size_t n) {
    auto *p = static_cast<char *>(buf);
    while (n) {
        const ssize_t r = read(fd, p, n);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            return false;
        }
        p += r;
        n -= std::size_t(r);
    }
    return true;
}
void write_full(int fd, const void *buf, std::size_t n) {
    auto *p = static_cast<const char *>(buf);
    while (n) {
        const ssize_t r = write(fd, p, n);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            return;
        }
        p += r;
        n -= std::size_t(r);
    }
}

void BM_ObsOneWay_pipe(benchmark::State &state) {
    Control *c = make_control();
    int fds[2];
    if (!c || pipe(fds) != 0) return state.SkipWithError("pipe failed");
    one_way(state, c, [&](MsgOut &m) { write_full(fds[1], &m, sizeof m); },
            [&](MsgOut &m) { return read_full(fds[0], &m, sizeof m); });
    close(fds[0]);
    close(fds[1]);
    munmap(c, sizeof *c);
}

void BM_ObsOneWay_unix_socket(benchmark::State &state) {
    Control *c = make_control();
    int sv[2];
    if (!c || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) return state.SkipWithError("socketpair failed");
    one_way(state, c, [&](MsgOut &m) { (void)!send(sv[1], &m, sizeof m, 0); },
            [&](MsgOut &m) { return recv(sv[0], &m, sizeof m, 0) == ssize_t(sizeof m); });
    close(sv[0]);
    close(sv[1]);
    munmap(c, sizeof *c);
}

void BM_ObsOneWay_posix_mq(benchmark::State &state) {
    Control *c = make_control();
    const std::string name = "/" + region_name("mq");
    mq_unlink(name.c_str());
    struct mq_attr attr{};
    attr.mq_maxmsg = 10;
    attr.mq_msgsize = sizeof(MsgOut);
    const mqd_t q = mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    if (!c || q == mqd_t(-1)) return state.SkipWithError((std::string("mq_open: ") + std::strerror(errno)).c_str());
    one_way(state, c, [&](MsgOut &m) { (void)mq_send(q, reinterpret_cast<const char *>(&m), sizeof m, 0); },
            [&](MsgOut &m) { return mq_receive(q, reinterpret_cast<char *>(&m), sizeof m, nullptr) == ssize_t(sizeof m); });
    mq_close(q);
    mq_unlink(name.c_str());
    munmap(c, sizeof *c);
}

// The locking design: one buffer guarded by a process-shared mutex, a condvar for "new".
struct LockedBox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    std::uint64_t seq;
    MsgOut msg;
};

void BM_ObsOneWay_mutex_shm(benchmark::State &state) {
    Control *c = make_control();
    void *p = mmap(nullptr, sizeof(LockedBox), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!c || p == MAP_FAILED) return state.SkipWithError("mmap failed");
    auto *box = static_cast<LockedBox *>(p);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&box->mu, &ma);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    pthread_cond_init(&box->cv, &ca);
    box->seq = 0;
    std::uint64_t seen = 0;
    one_way(
        state, c,
        [&](MsgOut &m) {
            pthread_mutex_lock(&box->mu);
            box->msg = m;
            ++box->seq;
            pthread_cond_signal(&box->cv);
            pthread_mutex_unlock(&box->mu);
        },
        [&](MsgOut &m) {
            // One buffer: a message overwritten before it was read is lost (counted), so the
            // last waits end on a timeout instead of a signal that never comes.
            struct timespec deadline;
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += 1;
            pthread_mutex_lock(&box->mu);
            int rc = 0;
            while (box->seq == seen && rc == 0 && !c->sender_done.load(std::memory_order_acquire))
                rc = pthread_cond_timedwait(&box->cv, &box->mu, &deadline);
            const bool got = box->seq != seen;
            seen = box->seq;
            m = box->msg;
            pthread_mutex_unlock(&box->mu);
            return got;
        });
    munmap(p, sizeof(LockedBox));
    munmap(c, sizeof *c);
}

} // namespace marllb::bench::ipc
