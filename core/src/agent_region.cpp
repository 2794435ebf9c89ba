// The agent's side: reading observations (newest, or in order with exact loss), reading raw
// reservoirs, writing actions.
//
// Ownership: this process holds the region's agent lock, so it is the only writer of the
// action section; it maps the header, the ring and the reservoirs read-only.
#include "internal.hpp"
#include "plant.hpp"
#include "seqlock.hpp"

#include <sys/mman.h>
#include <unistd.h>

namespace marllb::shm {

using namespace detail;

namespace {
// Bounded work per call: a reader never spins on a writer.
constexpr unsigned kNewestAttempts = 4;
constexpr unsigned kNextAttempts = 16;

// Who may write through a handle: the process that attached it. A child of that process
// (fork, _Fork, vfork-less clone: any new address space) must be refused, without a getpid()
// system call per write (glibc no longer caches the pid; it cost a cold write about a
// microsecond). The process keeps a token in a private page marked MADV_WIPEONFORK, which the
// kernel zeroes in every child however it was made; the first attach in a process draws a
// nonzero token, each handle remembers it, and write_action compares one word. Where the
// kernel lacks MADV_WIPEONFORK (before Linux 4.14) the check falls back to getpid().
// Concurrency: the token is set once per process image with a compare-and-swap (two threads
// attaching at once agree on one value); afterwards it is only read.
std::uint64_t *process_token() noexcept {
    static std::uint64_t *const page = []() -> std::uint64_t * {
        void *m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return nullptr;
        if (madvise(m, 4096, MADV_WIPEONFORK) != 0) {
            munmap(m, 4096);
            return nullptr;
        }
        return static_cast<std::uint64_t *>(m);
    }();
    if (!page) return nullptr;
    std::uint64_t want = 0;
    // Nonzero and different in a child: the pid (which a child never shares) and the time.
    const std::uint64_t mine = (std::uint64_t(getpid()) << 32 | (marllb_now_mono_ns() & 0xffffffffu)) | 1u;
    __atomic_compare_exchange_n(page, &want, mine, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return page;
}

// Whether this is the address space that attached: one load of the token, or getpid() where
// the kernel has no MADV_WIPEONFORK.
bool in_attaching_process(const std::uint64_t *token, std::uint64_t at_attach, int owner_pid) noexcept {
    return token ? __atomic_load_n(token, __ATOMIC_RELAXED) == at_attach : int(getpid()) == owner_pid;
}
} // namespace

AgentRegion::AgentRegion(Mapping map) noexcept : map_(std::move(map)) {}

Expected<AgentRegion> AgentRegion::attach(std::string_view name, const Options &opts) {
    // The attach proper, once the region is mapped.
    auto adopt = [](Mapping mapped) -> Expected<AgentRegion> {
        AgentRegion agent(std::move(mapped));
        agent.owner_pid_ = int(getpid());
        agent.token_ = process_token();
        agent.token_at_attach_ = agent.token_ ? __atomic_load_n(agent.token_, __ATOMIC_RELAXED) : 0;
        auto *a = agent.map_.action();
        __atomic_store_n(&a->agent_pid, int32_t(getpid()), __ATOMIC_RELAXED);
        add_relaxed(&a->attach_count, 1);
        return agent;
    };
    // "Being created" lasts as long as an LB replaces a region its creator left half-made
    // (microseconds): retry for up to ~200 ms before saying so. Each try's result is
    // constructed, never assigned over the last one: tl::expected's move assignment does not
    // compile for a move-only value under clang (the fuzz build).
    for (int i = 0;; ++i) {
        auto m = open_mapping(name, opts, Role::agent);
        if (!m && m.error().code == Errc::not_ready && i < 100) {
            usleep(2000);
            continue;
        }
        if (!m) return unexpected(m.error());
        return adopt(std::move(*m));
    }
}

// Copies observation `seq` if its slot holds exactly that sequence, complete, before and
// after the copy. A false return means the slot holds another sequence, is being written,
// or was overwritten during the copy: `out` must not be used.
bool AgentRegion::try_read_slot(std::uint64_t seq, Observation &out) const noexcept {
    const auto &slot = map_.ring()->slots[(seq - 1) % MARLLB_RING_SLOTS];
    std::uint64_t meta[2];
    const bool ok = read_consistent(&slot.lock, 2 * seq, [&] {
        prefetch_lines(&slot.msg, sizeof(MsgOut));
        copy_from_shared(meta, &slot.publish_mono_ns, sizeof meta);
        copy_from_shared(&out.msg, &slot.msg, sizeof(MsgOut));
    });
    if (!ok || out.msg.sequence_id != seq) return false;
    out.publish_mono_ns = meta[0];
    out.generation = std::uint32_t(meta[1]);
    return true;
}

Errc AgentRegion::read_newest(Observation &out) noexcept {
    const auto *ring = map_.ring();
    unsigned retries = 0;
    for (; retries < kNewestAttempts; ++retries) {
        // P2: acquire, pairs with the writer's P1 release of published_seq.
        const std::uint64_t p = load_acquire(&ring->published_seq);
        if (p <= last_returned_) { // nothing published yet, or nothing newer than returned
            total_retries_ += retries;
            return Errc::again;
        }
        if (try_read_slot(p, out)) break;
    }
    bool fallback = false;
    if (retries == kNewestAttempts) {
        // The newest slot kept changing under us (a writer far faster than this reader):
        // take the newest older slot that reads complete, but only one newer than every
        // message already returned (a message is never returned twice).
        const std::uint64_t p = load_acquire(&ring->published_seq); // P2
        std::uint64_t s = p - 1;
        for (; s > last_returned_ && s + MARLLB_RING_SLOTS > p; --s)
            if (try_read_slot(s, out)) break;
        if (s <= last_returned_ || s + MARLLB_RING_SLOTS <= p) {
            total_retries_ += retries;
            return Errc::again;
        }
        fallback = true;
        ++total_fallbacks_;
    }
    const std::uint64_t seq = out.msg.sequence_id; // > last_returned_ on every path here
    out.retries = retries;
    out.fallback = fallback ? 1 : 0;
    out.lost = 0;
    out.skipped = seq - last_returned_ - 1;
    last_returned_ = seq;
    total_retries_ += retries;
    return Errc::ok;
}

Errc AgentRegion::read_next(Observation &out) noexcept {
    [[maybe_unused]] const std::uint64_t plant_began = plant::begin();
    const auto *ring = map_.ring();
    std::uint64_t next = last_returned_ + 1;
    std::uint64_t lost = 0;
    unsigned attempt = 0;
    for (; attempt < kNextAttempts; ++attempt) {
        const std::uint64_t p = load_acquire(&ring->published_seq); // P2
        if (next > p) break;
        if (p - next >= MARLLB_RING_SLOTS) { // already overwritten: only p-3..p remain
            lost += p - (MARLLB_RING_SLOTS - 1) - next;
            next = p - (MARLLB_RING_SLOTS - 1);
        }
        if (try_read_slot(next, out)) {
            last_returned_ = next;
            total_lost_ += lost;
            total_retries_ += attempt;
            out.lost = lost + pending_lost_; // what earlier calls counted but could not report
            pending_lost_ = 0;
            out.skipped = 0;
            out.retries = attempt;
            out.fallback = 0;
            plant::read(plant_began);
            return Errc::ok;
        }
        // next <= p was complete when p was published; failing now means its slot is being
        // or has been rewritten with next+4 (or emptied by a restarted LB's repair): next is
        // gone, and counted exactly once.
        ++lost;
        ++next;
    }
    // Nothing new (or bounded work used up): keep the accounting exact for the next call.
    last_returned_ = next - 1;
    total_lost_ += lost;
    pending_lost_ += lost; // reported with the next message returned
    total_retries_ += attempt;
    return Errc::again;
}

Errc AgentRegion::read_reservoirs(std::uint64_t seq, ReservoirData &out) noexcept {
    const auto *res = map_.reservoirs();
    if (!res) return Errc::invalid;
    const std::uint64_t p = load_acquire(&map_.ring()->published_seq); // P2
    if (seq == 0 || seq > p) return Errc::invalid;
    const auto &buf = res[seq % MARLLB_RESERVOIR_BUFFERS];
    if (read_consistent(&buf.lock, 2 * seq, [&] { copy_from_shared(&out, &buf.data, sizeof out); }))
        return Errc::ok;
    // seq <= p: its reservoirs, if it had any, were complete before seq was published. A lock
    // other than 2*seq now means newer reservoirs (or a torn copy: newer ones being written),
    // or that seq never had any (published without, or emptied by a restarted LB's repair).
    // None of these states ever turns back into seq's reservoirs.
    return Errc::gone;
}

Errc AgentRegion::write_action(const MsgIn &action, std::uint32_t obs_generation,
                               RejectReason *reason) noexcept {
    // P2 first: the server set read after it is at least as new as the newest observation
    // (see LbRegion::declare_servers). The LB checks again against its own copy.
    const std::uint64_t newest = load_acquire(&map_.ring()->published_seq);
    RejectReason r = validate_action(action, newest, {num_servers(), server_set_seq()});
    // The LB refuses an observation generation it never had (META); so does the agent, before
    // writing (an agent serving two LBs could pass one's generation to the other).
    if (r == MARLLB_ACTION_OK && obs_generation > load_relaxed(&map_.header()->generation)) r = MARLLB_ACTION_META;
    if (reason) *reason = r;
    if (r != MARLLB_ACTION_OK) return Errc::rejected;
    // One writer per region is what makes the seqlock sound. A child forked after attach has
    // a copy of this handle but not its state (and, moved by the fork handler of mapping.cpp,
    // usually no share of the role lock): refuse it. Two threads on one handle would interleave W0..W2 of two writes, ending on a
    // lock value that vouches for a mixed payload: refuse the overlapping one.
    // Another address space (a child forked after attach): one load, or getpid() without the
    // token. A vfork child or a clone(CLONE_VM) task shares this memory, token and handle, as
    // a thread does: it passes here and is held to one writer at a time by writing_ below.
    if (!in_attaching_process(token_, token_at_attach_, owner_pid_)) return Errc::busy;
    // Acquire/release on the handle's own flag: the only partners are other threads of this
    // process calling write_action on the same handle (a caller error this turns into busy).
    if (__atomic_exchange_n(&writing_, true, __ATOMIC_ACQUIRE)) return Errc::busy;
    auto *a = map_.action();
    const std::uint64_t odd = next_odd(load_relaxed(&a->lock)); // own word
    struct {
        std::uint64_t write_mono_ns;
        std::uint32_t obs_generation;
        std::uint32_t reserved;
    } meta{marllb_now_mono_ns(), obs_generation, 0};
    write_begin(&a->lock, odd); // W0 W1
    copy_to_shared(&a->write_mono_ns, &meta, sizeof meta);
    copy_to_shared(&a->msg, &action, sizeof action);
    if constexpr (plant::write_action_again)
        plant::again_in<3, 5>([&] {
            asm volatile("" ::: "memory"); // the action may have changed: no reuse of a result
            RejectReason again = validate_action(action, newest, {num_servers(), server_set_seq()});
            asm volatile("" : : "r"(again));
            copy_to_shared(&a->msg, &action, sizeof action);
        });
    write_end(&a->lock, odd + 1); // W2, pairs with the LB's acquire in poll_action
    add_relaxed(&a->actions_written, 1);
    __atomic_store_n(&writing_, false, __ATOMIC_RELEASE);
    return Errc::ok;
}

void AgentRegion::close() noexcept {
    map_ = Mapping{}; // unmaps, then closes the file: the kernel drops the agent lock with it
}

bool AgentRegion::huge_pages() const noexcept {
    return (map_.header()->flags & MARLLB_FLAG_HUGEPAGES) != 0; // immutable after create
}

int AgentRegion::lb_pid() const noexcept {
    // Relaxed: a report for messages, written by each LB as it takes the region.
    return __atomic_load_n(&map_.header()->lb_pid, __ATOMIC_RELAXED);
}

void AgentRegion::rehearse() const noexcept {
    if (last_returned_ > 0) {
        Observation scratch;
        (void)try_read_slot(last_returned_, scratch); // may find it overwritten: only the path matters
    }
    // Lines 2.. of the action section (the payload): the LB reads them only when the lock
    // line changes, so owning them early costs its polls nothing.
    const auto *payload = reinterpret_cast<const char *>(map_.action()) + 2 * 64;
    prefetch_lines_for_write(payload, sizeof(marllb_action_section_t) - 2 * 64);
    // The validation's code path, on a one-server action that passes every check.
    static const MsgIn probe = [] {
        MsgIn a{};
        a.sequence_id = 1;
        a.num_servers = 1;
        a.weights[0] = 1.0f;
        a.alias_table[0].prob = 1.0f;
        return a;
    }();
    const RejectReason r = validate_action(probe, 1);
    asm volatile("" : : "r"(r));
}

std::uint64_t AgentRegion::published_sequence() const noexcept {
    return load_acquire(&map_.ring()->published_seq); // P2
}

void AgentRegion::heartbeat() noexcept {
    // Only the attaching process speaks for the agent: a child forked after attach would keep
    // the LB believing in an agent that has closed or died (the same test as write_action's).
    if (!in_attaching_process(token_, token_at_attach_, owner_pid_)) return;
    store_relaxed(&map_.action()->agent_heartbeat_ns, marllb_now_mono_ns()); // no data behind it
}

bool AgentRegion::lb_alive(std::uint64_t timeout_ns) const noexcept {
    const std::uint64_t hb = load_relaxed(&map_.header()->lb_heartbeat_ns);
    return hb != 0 && hb + timeout_ns >= marllb_now_mono_ns();
}

std::uint32_t AgentRegion::num_servers() const noexcept {
    // Relaxed: a report the LB stores before publishing the set's first observation.
    return __atomic_load_n(&map_.header()->num_servers, __ATOMIC_RELAXED);
}

std::uint64_t AgentRegion::server_set_seq() const noexcept {
    return load_relaxed(&map_.header()->server_set_seq);
}

Verdicts AgentRegion::verdicts() const noexcept {
    const auto *h = map_.header();
    Verdicts v{};
    v.applied_action_seq = load_relaxed(&h->applied_action_seq);
    v.applied_action_ns = load_relaxed(&h->applied_action_ns);
    v.actions_applied = load_relaxed(&h->actions_applied);
    v.actions_rejected = load_relaxed(&h->actions_rejected);
    v.actions_stale = load_relaxed(&h->actions_stale);
    v.last_rejected_seq = load_relaxed(&h->last_rejected_seq);
    v.last_reject_reason = __atomic_load_n(&h->last_reject_reason, __ATOMIC_RELAXED);
    v.generation = load_relaxed(&h->generation);
    v.published_seq = load_acquire(&map_.ring()->published_seq);
    return v;
}

} // namespace marllb::shm
