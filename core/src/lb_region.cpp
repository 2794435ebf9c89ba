// The LB's side: publishing observations, polling and validating actions, recovery.
//
// Ownership: this process holds the region's LB lock, so it is the only writer of the header,
// the ring and the reservoirs; it maps the action section read-only.
#include "internal.hpp"
#include "plant.hpp"
#include "seqlock.hpp"

#include <algorithm>
#include <cstddef>
#include <ctime>
#include <optional>
#include <unistd.h>

namespace marllb::shm {

using namespace detail;

namespace {
// Observation meta and message are contiguous in a slot (layout asserts offsets 48 and 64).
constexpr std::size_t kSlotMetaBytes = 16;
constexpr std::size_t kActionMetaBytes = 16;
// Never a lock value (locks count up from 0 by small steps): forces the first poll after a
// reopen off the fast path, where it re-adopts the recorded action.
constexpr std::uint64_t kReadoptPending = ~std::uint64_t(0);
// What poll_action copies out of the action section: meta then message, as laid out in both
// the action section (from write_mono_ns) and a saved action of the record.
struct ActionCopy {
    std::uint64_t write_mono_ns;
    std::uint32_t obs_generation;
    std::uint32_t reserved;
    MsgIn msg;
};
static_assert(sizeof(ActionCopy) == kActionMetaBytes + sizeof(MsgIn));
static_assert(offsetof(marllb_action_section_t, msg) - offsetof(marllb_action_section_t, write_mono_ns) ==
              kActionMetaBytes);
static_assert(offsetof(marllb_saved_action_t, msg) - offsetof(marllb_saved_action_t, write_mono_ns) ==
              kActionMetaBytes);
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
    lb.declare_servers(opts.num_servers, 1);
    return lb;
}

namespace {
// Sequence ids an LB can reach: 2^62 publishes take 146,000 years at one per microsecond. A
// larger one in the ring was written by something else, and continuing from it would wrap
// the ids (and the slot locks, at 2 * seq) to 0. Refused before recover() trusts it. The LB
// lock is held, so nothing writes the ring meanwhile.
constexpr std::uint64_t kMaxSequence = std::uint64_t(1) << 62;

std::optional<Error> junk_sequence(const Mapping &m) {
    const auto *ring = m.ring();
    std::uint64_t seq = load_relaxed(&ring->published_seq);
    for (const auto &slot : ring->slots) seq = std::max(seq, load_relaxed(&slot.lock) / 2);
    if (seq <= kMaxSequence) return std::nullopt;
    return make_error(Errc::bad_layout,
                      "region %s: its ring holds sequence id %llu, beyond any an LB publishes (2^62): the region "
                      "was written by something else; remove it (rm %s) and restart the LB",
                      m.path.c_str(), (unsigned long long)seq, m.path.c_str());
}
} // namespace

Expected<LbRegion> LbRegion::reopen(std::string_view name, const Options &opts) {
    auto m = open_mapping(name, opts, Role::lb);
    if (!m) return unexpected(m.error());
    if (auto junk = junk_sequence(*m)) return unexpected(*junk);
    LbRegion lb(std::move(*m));
    lb.recover(opts.num_servers);
    return lb;
}

Expected<LbRegion> LbRegion::open(std::string_view name, const Options &opts) {
    if (auto path = region_path(name, opts); path) (void)remove_dead_creators(name, opts);
    // Bounded: each turn either returns or saw the name change hands (created, replaced or
    // removed by another process meanwhile).
    for (int turn = 0;; ++turn) {
        auto r = reopen(name, opts);
        if (r || turn == 50) return r;
        if (r.error().code == Errc::not_ready) { // another LB is replacing a half-made region
            usleep(2000);
            continue;
        }
        if (r.error().code == Errc::stale) { // half-made by a dead creator (reopen's only stale)
            auto m = replace_half_made(name, opts);
            if (!m) continue; // no longer half-made: created, replaced or removed meanwhile; look again
            if (*m) {
                LbRegion lb(std::move(**m));
                lb.report_.generation = 1;
                lb.report_.next_seq = 1;
                lb.declare_servers(opts.num_servers, 1);
                return lb;
            }
            if (m->error().code != Errc::not_ready) return unexpected(m->error());
            usleep(2000);
            continue;
        }
        if (r.error().code != Errc::no_region) return r;
        auto c = create(name, opts);
        if (c || c.error().code != Errc::exists) return c; // exists: lost a race to create
    }
}

// Runs once after a reopen, before anything is published. The previous LB is dead (we hold
// its lock), so no writer runs concurrently; readers may, and must never see a torn slot
// become valid.
void LbRegion::recover(std::uint32_t num_servers) noexcept {
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
            // Half-written, or complete for an observation that is never published (the dead
            // LB wrote the reservoirs of seq, then died in seq's slot): this LB publishes its
            // own seq, and those reservoirs must never be returned with it. Readers ask only
            // for published sequences, so none is reading a buffer tagged above newest_complete.
            const std::uint64_t l = load_relaxed(&res[i].lock);
            if ((l & 1u) || l / 2 > newest_complete) {
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
    // The same count as the previous LB declared continues its set (and its action in force);
    // another count is a new set from the first observation this LB publishes.
    const std::uint32_t old_count = __atomic_load_n(&h->num_servers, __ATOMIC_RELAXED);
    declare_servers(num_servers, num_servers == old_count ? load_relaxed(&h->server_set_seq) : next_seq_);
    restore_action(published);
    report_.generation = generation_;
    report_.next_seq = next_seq_;
    report_.repaired_slots = repaired;
}

// The action record is written by an LB and read only here, by the next LB, after the writer
// died: the kernel hands over the LB lock only once the old process is gone, and that
// hand-over (exit, then our fcntl) orders all its stores before our loads, so relaxed loads
// suffice. The seqlock words only tell a save the writer finished from one death cut short.
void LbRegion::restore_action(std::uint64_t published) noexcept {
    auto *h = map_.header();
    auto *rec = map_.action_record();
    const std::uint64_t handled = load_relaxed(&rec->handled_lock);
    std::uint64_t locks[2] = {load_relaxed(&rec->saved[0].lock), load_relaxed(&rec->saved[1].lock)};
    saves_ = std::max((locks[0] + 1) / 2, (locks[1] + 1) / 2); // the next save outnumbers both
    const bool recorded = handled != 0 || locks[0] != 0 || locks[1] != 0;
    if (!recorded) {
        // A region whose LBs kept no record (an older build of this ABI): the action in force
        // can only be re-adopted from the slot, if it still holds it (see poll_action).
        applied_seq_ = load_relaxed(&h->applied_action_seq);
        return;
    }
    // Newest complete copy first; each validated again, as any action the LB takes.
    const int order[2] = {locks[1] > locks[0] ? 1 : 0, locks[1] > locks[0] ? 0 : 1};
    for (int k : order) {
        const std::uint64_t l = locks[k];
        if (l == 0 || (l & 1u)) continue;
        ActionCopy c;
        copy_from_shared(&c, &rec->saved[k].write_mono_ns, sizeof c);
        // The newest complete copy is the action that was in force: if it no longer passes
        // (another server set now), nothing is re-adopted. Falling back to the older copy
        // would bring back an action that one had replaced.
        if (check(&c, published) != MARLLB_ACTION_OK) break;
        action_ = c.msg;
        action_generation_ = c.obs_generation;
        action_write_ns_ = reported_write_time(c.write_mono_ns);
        applied_seq_ = c.msg.sequence_id;
        readopt_pending_ = true;
        restored_lock_ = handled;
        seen_action_lock_ = kReadoptPending;
        store_relaxed(&h->applied_action_seq, applied_seq_);
        return;
    }
    // Nothing that can be re-adopted: the verdicts say so, rather than name an action no LB
    // applies.
    applied_seq_ = 0;
    seen_action_lock_ = handled;
    store_relaxed(&h->applied_action_seq, 0);
}

void LbRegion::prefetch_next_slot() const noexcept {
    // Only hints: no store, so nothing a reader can see changes. The lines publish() writes:
    // the slot and the ring's published_seq line.
    prefetch_lines_for_write(&map_.ring()->slots[(next_seq_ - 1) % MARLLB_RING_SLOTS], sizeof(marllb_obs_slot_t));
    prefetch_lines_for_write(&map_.ring()->published_seq, 64);
}

void LbRegion::rehearse() const noexcept {
    prefetch_next_slot();
    prefetch_lines_for_write(&map_.action_record()->saved[(saves_ + 1) % 2], sizeof(marllb_saved_action_t));
    prefetch_lines_for_write(&map_.header()->applied_action_seq, 64); // the verdict line
    if (has_action_) {
        const ActionCopy in_force{action_write_ns_, action_generation_, 0, action_};
        const RejectReason r = check(&in_force, next_seq_ - 1); // the path, warmed
        asm volatile("" : : "r"(r));
    }
}

std::uint64_t LbRegion::publish(MsgOut &msg, const ReservoirData *raw) noexcept {
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
    plant::publish(&slot.msg, &msg);
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
    auto *rec = map_.action_record();
    if (readopt_pending_) [[unlikely]] {
        // First poll after a reopen: the previous LB's action in force, validated in
        // restore_action. The slot is judged from the next poll on, from where that LB left it.
        readopt_pending_ = false;
        has_action_ = true;
        seen_action_lock_ = restored_lock_;
        const PollResult r{MARLLB_POLL_APPLIED, MARLLB_ACTION_OK};
        record_verdict(r, applied_seq_);
        return r;
    }
    if (l & 1u) {
        // Mid-write, or the agent died mid-write. Its next write ends on an even value
        // different from l, so remembering l costs nothing and loses nothing.
        seen_action_lock_ = l;
        store_relaxed(&rec->handled_lock, l);
        ++counters_.polls_busy;
        return {MARLLB_POLL_BUSY, MARLLB_ACTION_OK};
    }
    // A new action: its lines (written by the agent, so in the agent's cache) asked for all at
    // once, so their transfers overlap instead of following the copy loop one by one (as the
    // agent's read of an observation does). Only here, after the lock moved: the fast path
    // above stays one load.
    prefetch_lines(&a->write_mono_ns, sizeof(ActionCopy));
    ActionCopy copy;
    const bool ok = read_consistent(&a->lock, l, [&] {
        copy_from_shared(&copy, &a->write_mono_ns, sizeof copy);
    });
    if (!ok) { // torn: the agent wrote again meanwhile; the next burst reads the new one
        ++counters_.polls_busy;
        return {MARLLB_POLL_BUSY, MARLLB_ACTION_OK};
    }
    seen_action_lock_ = l;

    PollResult r{};
    r.reason = check(&copy, next_seq_ - 1);
    if (r.reason != MARLLB_ACTION_OK) {
        r.status = MARLLB_POLL_REJECTED;
    } else if ((copy.msg.sequence_id > applied_seq_ ||
                (!has_action_ && copy.msg.sequence_id == applied_seq_)) && !plant::drop_action()) {
        // Newer than the action in force; or, after a restart of an LB that kept no record,
        // the one that was in force.
        action_ = copy.msg;
        action_generation_ = copy.obs_generation;
        action_write_ns_ = reported_write_time(copy.write_mono_ns);
        has_action_ = true;
        applied_seq_ = copy.msg.sequence_id;
        save_action(&copy);
        r.status = MARLLB_POLL_APPLIED;
    } else {
        r.status = MARLLB_POLL_STALE;
    }
    record_verdict(r, copy.msg.sequence_id);
    // Last: an LB killed before this store leaves the verdict to be given again (at worst a
    // stale count twice), never an action in force unrecorded.
    store_relaxed(&rec->handled_lock, l);
    return r;
}

// Everything the LB takes from an action: the message (validate_action, against this LB's
// server set) and the meta copied with it, which the LB reports (action_write_mono_ns,
// action_generation): junk there is refused, not reported.
RejectReason LbRegion::check(const void *meta_and_msg, std::uint64_t newest_seq) const noexcept {
    const auto &c = *static_cast<const ActionCopy *>(meta_and_msg);
    const RejectReason r = validate_action(c.msg, newest_seq, {num_servers_, server_set_seq_});
    if (r != MARLLB_ACTION_OK) return r;
    // An observation generation this region never had, or the meta's reserved word set, is
    // junk: refused. The write time is not judged (an agent in another time namespace has
    // another CLOCK_MONOTONIC, and its actions are as valid): one the LB cannot have seen
    // yet is reported as 0, unknown (reported_write_time).
    const bool junk = c.reserved != 0 || c.obs_generation > generation_;
    return junk ? MARLLB_ACTION_META : MARLLB_ACTION_OK;
}

std::uint64_t LbRegion::reported_write_time(std::uint64_t write_mono_ns) noexcept {
    return write_mono_ns <= marllb_now_mono_ns() ? write_mono_ns : 0;
}

// The server set in this LB's private copy (what poll_action checks against) and in the
// header (what agents read). Relaxed stores: they are reports, and an agent that has read an
// observation published after this call sees them, since that publish's release store of
// published_seq (P1) orders them before it and the agent's read acquires it (P2).
void LbRegion::declare_servers(std::uint32_t num_servers, std::uint64_t first_seq) noexcept {
    num_servers_ = num_servers;
    server_set_seq_ = num_servers ? first_seq : 0;
    auto *h = map_.header();
    // The set's first sequence before its count: an LB killed between the two leaves the new
    // set's start with the old count, which a restart then treats as a change (stricter), never
    // the new count with the old start (an old set's action continuing).
    store_relaxed(&h->server_set_seq, server_set_seq_);
    __atomic_store_n(&h->num_servers, num_servers_, __ATOMIC_RELAXED);
}

Errc LbRegion::set_servers(std::uint32_t num_servers) noexcept {
    if (num_servers == 0 || num_servers > MARLLB_MAX_AS) return Errc::invalid;
    declare_servers(num_servers, next_seq_);
    // The action in force answers the old set: dropped, never applied to the new one. A
    // re-adoption still pending after a reopen is dropped too; the slot is then judged from
    // where the previous LB left it (an action there answers the old set and is refused).
    if (readopt_pending_) {
        readopt_pending_ = false;
        seen_action_lock_ = restored_lock_;
    }
    has_action_ = false;
    store_relaxed(&map_.header()->applied_action_seq, 0);
    return Errc::ok;
}

// Keeps the action now in force in the region for a restarted LB (restore_action). Two
// buffers written alternately: a death mid-save leaves the previous complete copy.
void LbRegion::save_action(const void *meta_and_msg) noexcept {
    auto &buf = map_.action_record()->saved[++saves_ % 2];
    write_begin(&buf.lock, 2 * saves_ - 1);
    copy_to_shared(&buf.write_mono_ns, meta_and_msg, sizeof(ActionCopy));
    write_end(&buf.lock, 2 * saves_);
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

void LbRegion::close() noexcept {
    map_ = Mapping{}; // unmaps, then closes the file: the kernel drops the LB lock with it
}

bool LbRegion::huge_pages() const noexcept {
    return (map_.header()->flags & MARLLB_FLAG_HUGEPAGES) != 0; // immutable after create
}

int LbRegion::agent_pid() const noexcept {
    // Relaxed: a report for messages, written by the agent at attach; nothing is read through it.
    return __atomic_load_n(&map_.action()->agent_pid, __ATOMIC_RELAXED);
}

bool LbRegion::agent_alive(std::uint64_t timeout_ns) const noexcept {
    const std::uint64_t hb = load_relaxed(&map_.action()->agent_heartbeat_ns);
    return hb != 0 && hb + timeout_ns >= marllb_now_mono_ns();
}

} // namespace marllb::shm
