// The LB's side: publishing observations, polling and validating actions, recovery.
//
// Ownership: this process holds the region's LB lock, so it is the only writer of the header,
// the ring and the reservoirs; it maps the action section read-only.
#include "internal.hpp"
#include "plant.hpp"
#include "seqlock.hpp"

#include <ctime>
#include <unistd.h>

namespace marllb::shm {

using namespace detail;

namespace {
// Observation meta and message are contiguous in a slot (layout asserts offsets 48 and 64).
constexpr std::size_t kSlotMetaBytes = 16;
constexpr std::size_t kActionMetaBytes = 16;
struct SlotMeta {
    std::uint64_t publish_mono_ns;
    std::uint32_t generation;
    std::uint32_t reserved;
};
static_assert(sizeof(SlotMeta) == kSlotMetaBytes);
} // namespace

LbRegion::LbRegion(Mapping map) noexcept : map_(std::move(map)) {}

Expected<LbRegion> LbRegion::create(std::string_view name, const Options &opts) {
    auto m = create_mapping(name, opts);
    if (!m) return unexpected(m.error());
    LbRegion lb(std::move(*m));
    lb.report_.generation = 1;
    lb.report_.next_seq = 1;
    return lb;
}

Expected<LbRegion> LbRegion::reopen(std::string_view name, const Options &opts) {
    auto m = open_mapping(name, opts, Role::lb);
    if (!m) return unexpected(m.error());
    LbRegion lb(std::move(*m));
    lb.recover();
    return lb;
}

Expected<LbRegion> LbRegion::open(std::string_view name, const Options &opts) {
    auto r = reopen(name, opts);
    if (r || r.error().code != Errc::no_region) return r;
    auto c = create(name, opts);
    if (!c && c.error().code == Errc::exists) return reopen(name, opts); // lost a race to create
    return c;
}

// Runs once after a reopen, before anything is published. The previous LB is dead (we hold
// its lock), so no writer runs concurrently; readers may, and must never see a torn slot
// become valid.
void LbRegion::recover() noexcept {
    auto *h = map_.header();
    auto *ring = map_.ring();
    std::uint64_t published = load_relaxed(&ring->published_seq);
    std::uint64_t newest_complete = published;
    std::uint32_t repaired = 0;
    for (auto &slot : ring->slots) {
        const std::uint64_t l = load_relaxed(&slot.lock);
        if (l & 1u) {
            // Died mid-write: the payload is a mix. 0 matches no sequence a reader expects,
            // so a reader that loaded the old even value fails R3 and never accepts it.
            store_release(&slot.lock, 0);
            ++repaired;
        } else if (l / 2 > newest_complete) {
            newest_complete = l / 2; // completed but not yet published when it died
        }
    }
    if (auto *res = map_.reservoirs()) {
        for (unsigned i = 0; i < MARLLB_RESERVOIR_BUFFERS; ++i) {
            if (load_relaxed(&res[i].lock) & 1u) {
                store_release(&res[i].lock, 0);
                ++repaired;
            }
        }
    }
    report_.republished = newest_complete > published ? 1 : 0;
    if (newest_complete > published) {
        store_release(&ring->published_seq, newest_complete); // P1, as in publish()
        published = newest_complete;
    }
    next_seq_ = published + 1;
    generation_ = load_relaxed(&h->generation) + 1;
    store_relaxed(&h->generation, generation_);
    store_relaxed(&h->repaired_slots, load_relaxed(&h->repaired_slots) + repaired);
    struct timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    store_relaxed(&h->reopened_realtime_ns,
                  std::uint64_t(ts.tv_sec) * 1000000000u + std::uint64_t(ts.tv_nsec));
    __atomic_store_n(&h->lb_pid, int32_t(getpid()), __ATOMIC_RELAXED);
    // The action in force before the crash is re-adopted at the first poll (see poll_action).
    applied_seq_ = load_relaxed(&h->applied_action_seq);
    report_.generation = generation_;
    report_.next_seq = next_seq_;
    report_.repaired_slots = repaired;
}

void LbRegion::prefetch_next_slot() const noexcept {
    // Only hints: no store, so nothing a reader can see changes. The lines publish() writes:
    // the slot and the ring's published_seq line.
    prefetch_lines_for_write(&map_.ring()->slots[(next_seq_ - 1) % MARLLB_RING_SLOTS], sizeof(marllb_obs_slot_t));
    prefetch_lines_for_write(&map_.ring()->published_seq, 64);
}

std::uint64_t LbRegion::publish(MsgOut &msg, const ReservoirData *raw) noexcept {
    [[maybe_unused]] const std::uint64_t plant_began = plant::begin();
    const std::uint64_t seq = next_seq_;
    if (raw) {
        auto *res = map_.reservoirs();
        if (!res) return 0; // region made without reservoirs: nothing is published
        // Reservoirs first, tagged with seq: a reader that holds observation seq finds them
        // complete; a second buffer keeps seq-1 readable while seq is written.
        auto &buf = res[seq % MARLLB_RESERVOIR_BUFFERS];
        write_begin(&buf.lock, 2 * seq - 1);
        copy_to_shared(&buf.data, raw, sizeof(ReservoirData));
        write_end(&buf.lock, 2 * seq);
    }
    const SlotMeta meta{marllb_now_mono_ns(), std::uint32_t(generation_), 0};
    msg.sequence_id = seq;
    if (msg.timestamp_us == 0) msg.timestamp_us = marllb_now_realtime_us();
    auto &slot = map_.ring()->slots[(seq - 1) % MARLLB_RING_SLOTS];
    write_begin(&slot.lock, 2 * seq - 1);
    copy_to_shared(&slot.publish_mono_ns, &meta, kSlotMetaBytes);
    copy_to_shared(&slot.msg, &msg, sizeof(MsgOut));
    write_end(&slot.lock, 2 * seq);
    plant::publish(plant_began);
    // P1: release, pairs with the reader's acquire of published_seq (P2): a reader that sees
    // seq here sees the slot's lock at 2*seq or later. Relaxed would let it see seq while
    // the lock still reads an older value, and it would report a message as lost.
    store_release(&map_.ring()->published_seq, seq);
    next_seq_ = seq + 1;
    ++counters_.published;
    return seq;
}

PollResult LbRegion::poll_action() noexcept {
    auto *a = map_.action();
    // The fast path: one load of the action's lock line, which stays in this core's cache
    // until the agent writes. Acquire pairs with the agent's W2 (see read_consistent).
    const std::uint64_t l = load_acquire(&a->lock);
    if (l == seen_action_lock_) return {};
    if (l & 1u) {
        // Mid-write, or the agent died mid-write. Its next write ends on an even value
        // different from l, so remembering l costs nothing and loses nothing.
        seen_action_lock_ = l;
        ++counters_.polls_busy;
        return {MARLLB_POLL_BUSY, MARLLB_ACTION_OK};
    }
    struct {
        std::uint64_t write_mono_ns;
        std::uint32_t obs_generation;
        std::uint32_t reserved;
        MsgIn msg;
    } copy;
    static_assert(sizeof(copy) == kActionMetaBytes + sizeof(MsgIn));
    const bool ok = read_consistent(&a->lock, l, [&] {
        copy_from_shared(&copy, &a->write_mono_ns, sizeof copy);
    });
    if (!ok) { // torn: the agent wrote again meanwhile; the next burst reads the new one
        ++counters_.polls_busy;
        return {MARLLB_POLL_BUSY, MARLLB_ACTION_OK};
    }
    seen_action_lock_ = l;

    PollResult r{};
    r.reason = validate_action(copy.msg, next_seq_ - 1);
    if (r.reason != MARLLB_ACTION_OK) {
        r.status = MARLLB_POLL_REJECTED;
    } else if (copy.msg.sequence_id > applied_seq_ ||
               (!has_action_ && copy.msg.sequence_id == applied_seq_)) {
        // Newer than the action in force; or, after a restart, the one that was in force.
        action_ = copy.msg;
        action_generation_ = copy.obs_generation;
        action_write_ns_ = copy.write_mono_ns;
        has_action_ = true;
        applied_seq_ = copy.msg.sequence_id;
        r.status = MARLLB_POLL_APPLIED;
    } else {
        r.status = MARLLB_POLL_STALE;
    }
    record_verdict(r, copy.msg.sequence_id);
    return r;
}

// Publishes the verdict for the agent (relaxed: these are reports, nothing is published
// through them; the agent reads them as "may be a moment old").
void LbRegion::record_verdict(PollResult r, std::uint64_t seq) noexcept {
    auto *h = map_.header();
    switch (r.status) {
    case MARLLB_POLL_APPLIED:
        ++counters_.actions_applied;
        store_relaxed(&h->applied_action_seq, seq);
        store_relaxed(&h->applied_action_ns, marllb_now_mono_ns());
        add_relaxed(&h->actions_applied, 1);
        break;
    case MARLLB_POLL_REJECTED:
        ++counters_.actions_rejected;
        add_relaxed(&h->actions_rejected, 1);
        add_relaxed(&h->rejects_by_reason[r.reason], 1);
        store_relaxed(&h->last_rejected_seq, seq);
        __atomic_store_n(&h->last_reject_reason, std::uint32_t(r.reason), __ATOMIC_RELAXED);
        break;
    case MARLLB_POLL_STALE:
        ++counters_.actions_stale;
        add_relaxed(&h->actions_stale, 1);
        break;
    default:
        break;
    }
}

void LbRegion::heartbeat() noexcept {
    // Relaxed: the heartbeat publishes no data, only "alive at t".
    store_relaxed(&map_.header()->lb_heartbeat_ns, marllb_now_mono_ns());
}

bool LbRegion::agent_alive(std::uint64_t timeout_ns) const noexcept {
    const std::uint64_t hb = load_relaxed(&map_.action()->agent_heartbeat_ns);
    return hb != 0 && hb + timeout_ns >= marllb_now_mono_ns();
}

} // namespace marllb::shm
