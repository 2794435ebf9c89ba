#include "link_burst.hpp"

#include <rte_pause.h>

#include <cstddef>
#include <dlfcn.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace marllb::sim::app::burst_guard {

namespace {
thread_local Slot *t_slot = nullptr; // the calling thread's, once it polled
}

Slot *mine() noexcept {
    if (t_slot) return t_slot;
    for (Slot &s : slots) {
        bool free = false;
        if (s.taken.compare_exchange_strong(free, true, std::memory_order_acq_rel)) return t_slot = &s;
    }
    return nullptr;
}

void wait_for_bursts() noexcept {
    if (!on.load(std::memory_order_relaxed)) return;
    std::atomic_thread_fence(std::memory_order_seq_cst); // U1
    for (Slot &s : slots) {
        const std::uint64_t v = s.seq.load(std::memory_order_acquire);
        if (!(v & 1) || &s == t_slot) continue; // never on itself
        // A burst on another thread may have passed the flag's check: let it end. It runs
        // no more than a burst's copies unless its thread is preempted, hence the yield.
        for (unsigned spins = 0; s.seq.load(std::memory_order_acquire) == v; ++spins) {
            if (spins < 64) rte_pause();
            else sched_yield();
        }
    }
}

} // namespace marllb::sim::app::burst_guard

namespace {
using MunmapFn = int (*)(void *, std::size_t);
// The next definition (a sanitizer's interceptor, else libc's), looked up before main; a
// call that comes earlier makes the system call itself.
const MunmapFn next_munmap = reinterpret_cast<MunmapFn>(dlsym(RTLD_NEXT, "munmap"));
} // namespace

// Every munmap in this process that goes through the dynamic linker, the memif PMD's among
// them (marllb-sim exports the symbol: sim/apps/CMakeLists.txt). glibc's own unmaps (malloc)
// call the system directly and do not come here.
extern "C" int munmap(void *addr, std::size_t len) noexcept {
    marllb::sim::app::burst_guard::wait_for_bursts();
    if (next_munmap) return next_munmap(addr, len);
    return int(syscall(SYS_munmap, addr, len));
}
