// Seqlock primitives over the plain-integer fields of marllb/shm_layout.h.
//
// Design (Boehm 2012, "Can seqlocks get along with programming language memory models?"):
// one writer and one reader per lock word; every shared access is an 8-byte atomic, so
// the payload copy is race-free under the C++ memory model and ThreadSanitizer has nothing
// to report. The edges, labelled at both ends:
//
//   writer                                      reader
//   W0 lock.store(odd, relaxed)                 R0 l1 = lock.load(acquire)      [pairs W2]
//   W1 fence(release)            [pairs R2]        payload.load(relaxed) ...
//      payload.store(relaxed) ...               R2 fence(acquire)               [pairs W1]
//   W2 lock.store(even, release) [pairs R0]     R3 l2 = lock.load(relaxed)
//                                                  accept iff l1 == l2 and l1 is the even
//                                                  value expected
//
// R0/W2: if the reader sees the even value, every payload store before W2 is visible, so the
// copy holds at least that message. R2/W1: if any payload load saw a store that follows W1
// (a newer write), the fence pair makes W0's odd value (or later) visible to R3, so l2 != l1
// and the copy is discarded. A weaker W2 (relaxed) would let the reader accept a copy that
// misses payload stores; dropping W1 or R2 would let a torn copy pass the check at R3.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace marllb::shm::detail {

// 8-byte atomic accessors on fields of the C layout (plain uint64_t, 8-byte aligned).
// __atomic builtins rather than std::atomic_ref: they accept pointers into read-only
// mappings (atomic_ref<const T> does not exist before C++26), and compile to plain moves.
inline std::uint64_t load_acquire(const std::uint64_t *p) noexcept {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
inline std::uint64_t load_relaxed(const std::uint64_t *p) noexcept {
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
inline void store_release(std::uint64_t *p, std::uint64_t v) noexcept {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
inline void store_relaxed(std::uint64_t *p, std::uint64_t v) noexcept {
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
inline void add_relaxed(std::uint64_t *p, std::uint64_t v) noexcept {
    // Single writer: a load and a store, not an RMW; readers may see the old value.
    store_relaxed(p, load_relaxed(p) + v);
}

// Asks for every cache line of [p, p + bytes) at once, so the misses of a cross-core copy
// overlap instead of arriving one by one as the copy loop reaches them. Every line the span
// touches, also when it does not start on a line boundary. Kind: 0 to read, 1 with write intent
// as the compiler emits it, 2 the x86-64 PREFETCHW instruction (prefetch_lines_for_write).
template <int Kind>
[[gnu::always_inline]] inline void prefetch_span(const void *p, std::size_t bytes) noexcept {
    const auto end = reinterpret_cast<std::uintptr_t>(p) + bytes;
    for (auto a = reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t(63); a < end; a += 64) {
        if constexpr (Kind == 2) asm volatile("prefetchw %0" : : "m"(*reinterpret_cast<const char *>(a)));
        else __builtin_prefetch(reinterpret_cast<const void *>(a), Kind, 3);
    }
}
inline void prefetch_lines(const void *p, std::size_t bytes) noexcept { prefetch_span<0>(p, bytes); }

// Whether this x86-64 CPU has PREFETCHW (CPUID 0x80000001, ECX bit 8, "3dnowprefetch" in
// /proc/cpuinfo). Read once when the library loads; false before that and elsewhere.
#if defined(__x86_64__)
inline bool cpu_has_prefetchw() noexcept {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 8)) != 0;
}
inline const bool g_has_prefetchw = cpu_has_prefetchw();
#endif

// Prefetch with write intent: the lines arrive owned, so the stores that follow do not each
// wait for an ownership request (the writer's cold-cache case). On x86-64 this needs the
// PREFETCHW instruction. __builtin_prefetch(p, 1) emits it only when the compiler may assume
// the CPU has it (-mprfchw, not in the x86-64 baseline), and otherwise a read prefetch
// (prefetcht0), whose lines arrive shared and still wait for ownership at the first store.
// So the instruction is written here, taken where the CPU reports it
// (core/tests/prefetch_for_write.sh checks the library's code for it, in the functions that
// call this one: always inlined, also at -O0).
[[gnu::always_inline]] inline void prefetch_lines_for_write(const void *p, std::size_t bytes) noexcept {
#if defined(__x86_64__)
    if (g_has_prefetchw) return prefetch_span<2>(p, bytes);
#endif
    prefetch_span<1>(p, bytes);
}

// Copies `bytes` (a multiple of 8) out of shared memory with relaxed 8-byte loads.
inline void copy_from_shared(void *dst, const void *src, std::size_t bytes) noexcept {
    auto *d = static_cast<std::uint64_t *>(dst);
    const auto *s = static_cast<const std::uint64_t *>(src);
#pragma GCC unroll 8
    for (std::size_t i = 0; i < bytes / 8; ++i) d[i] = __atomic_load_n(s + i, __ATOMIC_RELAXED);
}

// Copies `bytes` (a multiple of 8) into shared memory with relaxed 8-byte stores.
inline void copy_to_shared(void *dst, const void *src, std::size_t bytes) noexcept {
    auto *d = static_cast<std::uint64_t *>(dst);
    const auto *s = static_cast<const std::uint64_t *>(src);
#pragma GCC unroll 8
    for (std::size_t i = 0; i < bytes / 8; ++i) __atomic_store_n(d + i, s[i], __ATOMIC_RELAXED);
}

// Writer side of one lock word. Only the owner of `lock` calls these.
inline void write_begin(std::uint64_t *lock, std::uint64_t odd) noexcept {
    store_relaxed(lock, odd);                            // W0
    std::atomic_thread_fence(std::memory_order_release); // W1, pairs with R2
}
inline void write_end(std::uint64_t *lock, std::uint64_t even) noexcept {
    store_release(lock, even); // W2, pairs with R0
}

// Reader side: runs `copy` (relaxed loads only) if the lock holds `expected` (even) before
// and after. Returns false on a torn or mismatched read; what `copy` wrote is then garbage.
template <class Copy>
inline bool read_consistent(const std::uint64_t *lock, std::uint64_t expected, Copy &&copy) noexcept {
    if (load_acquire(lock) != expected) return false; // R0, pairs with W2
    copy();
    std::atomic_thread_fence(std::memory_order_acquire); // R2, pairs with W1
    return load_relaxed(lock) == expected;               // R3
}

// The next odd value above `lock`: a lock left odd by a writer that died mid-write moves on
// to a new odd value, so a reader that loaded the old one still fails its check.
inline std::uint64_t next_odd(std::uint64_t lock) noexcept { return (lock | 1u) + ((lock & 1u) ? 2u : 0u); }

} // namespace marllb::shm::detail
