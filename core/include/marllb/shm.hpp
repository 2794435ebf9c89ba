// marllb/shm.hpp — C++ API of the MARLLB shared-memory IPC.
//
// Move-only RAII owners per role: LbRegion (the load balancer, sole writer of observations)
// and AgentRegion (the agent, sole writer of actions). Fallible creation returns
// Expected<T> (std::expected<T, Error>); hot paths are noexcept and never block. No exceptions are thrown.
// The types and the protocol are those of marllb/shm.h; the C API is a thin layer over this.
#pragma once

#include <marllb/shm.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <version>

#if defined(__cpp_lib_expected) && !defined(MARLLB_SHM_TL_EXPECTED)
#include <expected>
namespace marllb::shm {
template <class T, class E> using expected_type = std::expected<T, E>;
using std::unexpected;
} // namespace marllb::shm
#elif !defined(MARLLB_SHM_TL_EXPECTED)
// A return type is not part of a function's linker name: code that chose another Expected
// than the library did would link and then read the wrong layout.
#error "marllb/shm.hpp needs std::expected, as the library was built with: C++23 (g++ 12: -std=c++23)"
#else
// clang 14 over libstdc++ 12 (the fuzzing build, which defines MARLLB_SHM_TL_EXPECTED for the
// library and everything built with it) has no std::expected: tl::expected (Debian
// libexpected-dev) has the same interface for what this API uses.
#include <tl/expected.hpp>
namespace marllb::shm {
template <class T, class E> using expected_type = tl::expected<T, E>;
using tl::unexpected;
} // namespace marllb::shm
#endif

// The library is built with hidden visibility: what this header declares is its interface
// (detail::Mapping too: the region classes' inline moves and destructors call it), except the
// classes' private functions, marked hidden.
#pragma GCC visibility push(default)
namespace marllb::shm {

enum class Errc : int {
    ok = MARLLB_OK,
    no_region = MARLLB_E_NOENT,
    exists = MARLLB_E_EXIST,
    bad_magic = MARLLB_E_MAGIC,
    bad_version = MARLLB_E_VERSION,
    bad_size = MARLLB_E_SIZE,
    bad_layout = MARLLB_E_LAYOUT,
    stale = MARLLB_E_STALE,
    busy = MARLLB_E_BUSY,
    not_ready = MARLLB_E_NOTREADY,
    no_space = MARLLB_E_NOSPC,
    permission = MARLLB_E_PERM,
    invalid = MARLLB_E_INVAL,
    again = MARLLB_E_AGAIN,
    gone = MARLLB_E_GONE,
    no_memory = MARLLB_E_NOMEM,
    rejected = MARLLB_E_REJECTED,
    system = MARLLB_E_SYSTEM,
};

struct Error {
    Errc code;
    std::string message; // what was wrong and what to do
};

template <class T> using Expected = expected_type<T, Error>;

using MsgOut = marllb_msg_out_t;
using MsgIn = marllb_msg_in_t;
using ReservoirData = marllb_reservoir_data_t;
using Observation = marllb_observation_t;
using Options = marllb_options_t;
using ReopenReport = marllb_reopen_report_t;
using Verdicts = marllb_verdicts_t;
using RejectReason = marllb_action_reject_t;

[[nodiscard]] Options default_options() noexcept;
[[nodiscard]] const char *describe(Errc code) noexcept;
[[nodiscard]] const char *describe(RejectReason reason) noexcept;

namespace detail {
// One mapping of a region file, role-agnostic. Move-only; unmaps and closes on destruction.
// Private to the region classes: callers reach the region through their named calls only.
struct Mapping {
    int fd = -1;
    unsigned char *base = nullptr;
    std::size_t size = 0;
    std::string path;
    std::string notes; // what create chose differently from what was asked (e.g. no huge pages)

    Mapping() = default;
    Mapping(Mapping &&other) noexcept;
    Mapping &operator=(Mapping &&other) noexcept;
    Mapping(const Mapping &) = delete;
    Mapping &operator=(const Mapping &) = delete;
    ~Mapping();

    [[nodiscard]] marllb_region_header_t *header() const noexcept {
        return reinterpret_cast<marllb_region_header_t *>(base);
    }
    [[nodiscard]] marllb_obs_ring_t *ring() const noexcept {
        return reinterpret_cast<marllb_obs_ring_t *>(base + MARLLB_RING_OFFSET);
    }
    [[nodiscard]] marllb_action_section_t *action() const noexcept {
        return reinterpret_cast<marllb_action_section_t *>(base + MARLLB_ACTION_OFFSET);
    }
    [[nodiscard]] marllb_reservoir_buffer_t *reservoirs() const noexcept; // nullptr if none
    [[nodiscard]] marllb_action_record_t *action_record() const noexcept {
        return reinterpret_cast<marllb_action_record_t *>(base + MARLLB_ACTION_RECORD_OFFSET);
    }
};
} // namespace detail

struct PollResult {
    marllb_poll_t status = MARLLB_POLL_UNCHANGED;
    RejectReason reason = MARLLB_ACTION_OK;
};

// Counters private to the LB process (the header's verdict counters are their shared view).
using LbCounters = marllb_lb_counters_t;

// The LB's side of a region. LB process only; one thread at a time. A closed or moved-from
// region allows only is_open(), close(), assignment and destruction.
class LbRegion {
public:
    [[nodiscard]] static Expected<LbRegion> create(std::string_view name,
                                                   const Options &opts = default_options());
    [[nodiscard]] static Expected<LbRegion> reopen(std::string_view name,
                                                   const Options &opts = default_options());
    [[nodiscard]] static Expected<LbRegion> open(std::string_view name,
                                                 const Options &opts = default_options());

    LbRegion(LbRegion &&) noexcept = default;
    LbRegion &operator=(LbRegion &&) noexcept = default;

    // Unmaps the region and releases the LB role at once (a restarted LB may reopen it); the
    // region stays. A second close does nothing.
    void close() noexcept;
    [[nodiscard]] bool is_open() const noexcept { return map_.base != nullptr; }

    // Publishes `msg` as the next observation; sets msg.sequence_id (and timestamp_us if 0).
    std::uint64_t publish(MsgOut &msg, const ReservoirData *raw = nullptr) noexcept;

    // Optional, LB side: fetches the next slot's cache lines for writing, so a publish that
    // follows shortly (e.g. called one burst before a scheduled publish) finds them owned.
    void prefetch_next_slot() const noexcept;
    // Optional, LB side, shortly before a publish whose answer the LB will apply (the agent's
    // counterpart is AgentRegion::rehearse): prefetch_next_slot(), the lines applying an action
    // writes (the next save of the action record, the verdict line) fetched for writing, and
    // the validation run over the action in force (result discarded). Hints and loads only:
    // nothing another process can see changes, and the action slot, which the agent is about
    // to write, is left alone.
    void rehearse() const noexcept;

    // Checks the action slot. One cache-line load when nothing changed. The first poll after
    // a reopen re-applies the action the previous LB had in force (MARLLB_POLL_APPLIED), from
    // the region's action record, validated again.
    [[nodiscard]] PollResult poll_action() noexcept;

    // The action in force, or nullptr. Private to this process: stable until the next poll.
    [[nodiscard]] const MsgIn *action() const noexcept { return has_action_ ? &action_ : nullptr; }
    [[nodiscard]] std::uint32_t action_generation() const noexcept { return action_generation_; }
    // CLOCK_MONOTONIC time at which the agent began writing the action in force.
    [[nodiscard]] std::uint64_t action_write_mono_ns() const noexcept { return action_write_ns_; }

    // Announces a new server set (servers added or drained) before the first observation of
    // it is published: its count (1..64) becomes the one actions must carry, and actions
    // answering an observation published before this call are refused (SERVER_SET). The
    // action in force is dropped: action() is nullptr until one for the new set is applied.
    // Errc::invalid for a count outside 1..64 (nothing changes).
    [[nodiscard]] Errc set_servers(std::uint32_t num_servers) noexcept;
    // The declared server count (0: not declared, any count accepted) and the first sequence
    // id of the current set.
    [[nodiscard]] std::uint32_t num_servers() const noexcept { return num_servers_; }
    [[nodiscard]] std::uint64_t server_set_seq() const noexcept { return server_set_seq_; }
    void heartbeat() noexcept;
    [[nodiscard]] bool agent_alive(std::uint64_t timeout_ns) const noexcept;

    [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }
    [[nodiscard]] std::uint64_t next_sequence() const noexcept { return next_seq_; }
    [[nodiscard]] const ReopenReport &reopen_report() const noexcept { return report_; }
    [[nodiscard]] const LbCounters &counters() const noexcept { return counters_; }
    [[nodiscard]] const std::string &path() const noexcept { return map_.path; }
    [[nodiscard]] std::size_t size() const noexcept { return map_.size; }
    // The region's pages as this process maps them, read-only: for placing them (e.g. binding
    // them to a NUMA node), not for reading the protocol's fields (use the calls above).
    [[nodiscard]] std::span<const std::byte> memory() const noexcept {
        return {reinterpret_cast<const std::byte *>(map_.base), map_.size};
    }
    [[nodiscard]] bool has_reservoirs() const noexcept { return map_.reservoirs() != nullptr; }
    // The region lives on huge pages (MARLLB_OPT_HUGEPAGES was honoured).
    [[nodiscard]] bool huge_pages() const noexcept;
    // The agent that attached last (0 if none ever did); any time, may be a moment old.
    [[nodiscard]] int agent_pid() const noexcept;
    // Empty, or what create did differently from what was asked (e.g. no huge pages here).
    [[nodiscard]] const std::string &notes() const noexcept { return map_.notes; }

private: // hidden: called only inside the library, so not exported from it
    [[gnu::visibility("hidden")]] explicit LbRegion(detail::Mapping map) noexcept;
    [[gnu::visibility("hidden")]] void recover(std::uint32_t num_servers) noexcept;
    [[gnu::visibility("hidden")]] void restore_action(std::uint64_t published) noexcept;
    [[gnu::visibility("hidden")]] void save_action(const void *meta_and_msg) noexcept;
    [[gnu::visibility("hidden")]] void record_verdict(PollResult r, std::uint64_t seq) noexcept;
    [[gnu::visibility("hidden")]] void declare_servers(std::uint32_t num_servers, std::uint64_t first_seq) noexcept;
    // meta_and_msg: an action's meta (write time, generation, reserved) followed by its message.
    [[gnu::visibility("hidden")]] [[nodiscard]] RejectReason check(const void *meta_and_msg,
                                                                 std::uint64_t newest_seq) const noexcept;
    [[gnu::visibility("hidden")]] static std::uint64_t reported_write_time(std::uint64_t write_mono_ns) noexcept;
    std::uint32_t num_servers_ = 0;    // declared server count, 0 = not declared
    std::uint64_t server_set_seq_ = 0; // first sequence id of the current server set

    detail::Mapping map_;
    std::uint64_t next_seq_ = 1;      // next sequence id to publish
    std::uint64_t generation_ = 1;
    std::uint64_t seen_action_lock_ = 0; // last action lock value fully handled
    std::uint64_t restored_lock_ = 0;    // after a reopen: the previous LB's handled lock
    std::uint64_t saves_ = 0;            // actions saved in the region's action record
    bool readopt_pending_ = false;       // after a reopen: action_ is re-adopted at the first poll
    std::uint64_t applied_seq_ = 0;   // sequence_id of the action in force
    bool has_action_ = false;
    std::uint32_t action_generation_ = 0;
    std::uint64_t action_write_ns_ = 0;
    MsgIn action_{};
    ReopenReport report_{};
    LbCounters counters_{};
};

// The agent's side of a region. Agent process only (the process that attached: a child
// forked after attach gets Errc::busy from write_action and must attach its own handle once
// the parent has closed), one thread at a time (an overlapping write_action from a second
// thread is refused with Errc::busy; the reads are not guarded and must not overlap). A
// closed or moved-from region allows only is_open(), close(), assignment and destruction.
class AgentRegion {
public:
    [[nodiscard]] static Expected<AgentRegion> attach(std::string_view name,
                                                      const Options &opts = default_options());

    AgentRegion(AgentRegion &&) noexcept = default;
    AgentRegion &operator=(AgentRegion &&) noexcept = default;

    // Unmaps the region and releases the agent role at once (another agent may attach). A
    // second close does nothing.
    void close() noexcept;
    [[nodiscard]] bool is_open() const noexcept { return map_.base != nullptr; }

    // Newest complete observation, newer than every one returned before (read_newest and
    // read_next share that position): a message is never returned twice. Errc::again when
    // nothing newer is published, or every newer slot was being overwritten.
    [[nodiscard]] Errc read_newest(Observation &out) noexcept;
    // Next observation in order; out.lost counts the messages overwritten before being read
    // since the previous one returned (including those counted by calls that returned
    // Errc::again), so the sum of out.lost over returned messages plus pending_lost() is
    // total_lost(), exactly.
    [[nodiscard]] Errc read_next(Observation &out) noexcept;
    // Raw reservoirs published with observation `seq`. Errc::invalid: no reservoirs in this
    // region, or seq not published; Errc::gone: overwritten, or seq never had reservoirs.
    [[nodiscard]] Errc read_reservoirs(std::uint64_t seq, ReservoirData &out) noexcept;

    // Validates, then writes the action answering observation (action.sequence_id, generation).
    // Errc::rejected (and *reason) if invalid, including another server count than the LB
    // declared; Errc::busy from another address space than the one that attached (a forked
    // child), or while another thread or task sharing this memory (a vfork child, a
    // clone(CLONE_VM) task: the handle is theirs as it is a thread's) is writing on it.
    [[nodiscard]] Errc write_action(const MsgIn &action, std::uint32_t obs_generation,
                                    RejectReason *reason = nullptr) noexcept;

    void heartbeat() noexcept;
    [[nodiscard]] bool lb_alive(std::uint64_t timeout_ns) const noexcept;
    [[nodiscard]] Verdicts verdicts() const noexcept;
    // The LB's declared server count (0: not declared) and the first observation sequence id
    // of its current set; any time, may be a moment old (see marllb_agent_num_servers).
    [[nodiscard]] std::uint32_t num_servers() const noexcept;
    [[nodiscard]] std::uint64_t server_set_seq() const noexcept;

    // Optional, agent side, shortly before an observation is due (the LB's counterpart is
    // LbRegion::prefetch_next_slot): runs the read path over the last observation returned,
    // into a scratch copy (nothing is returned, the read position does not move), and fetches
    // the action payload's lines for writing, so the read and the answer that follow find
    // their code, page translations and lines at hand. Hints and loads only: nothing another
    // process can see changes (the action lines' lock line, which the LB polls, is left alone).
    void rehearse() const noexcept;

    // The newest published sequence id: one load, for polling before a read_newest.
    [[nodiscard]] std::uint64_t published_sequence() const noexcept;
    [[nodiscard]] std::uint64_t last_returned() const noexcept { return last_returned_; }
    [[nodiscard]] std::uint64_t total_lost() const noexcept { return total_lost_; }
    // Lost messages counted by read_next calls that returned Errc::again, not yet reported in
    // an out.lost (they will be, with the next message returned).
    [[nodiscard]] std::uint64_t pending_lost() const noexcept { return pending_lost_; }
    [[nodiscard]] std::uint64_t total_retries() const noexcept { return total_retries_; }
    [[nodiscard]] std::uint64_t total_fallbacks() const noexcept { return total_fallbacks_; }
    [[nodiscard]] bool has_reservoirs() const noexcept { return map_.reservoirs() != nullptr; }
    [[nodiscard]] bool huge_pages() const noexcept;
    // The LB that holds (or last held) the region; any time, may be a moment old.
    [[nodiscard]] int lb_pid() const noexcept;
    [[nodiscard]] const std::string &path() const noexcept { return map_.path; }
    [[nodiscard]] std::size_t size() const noexcept { return map_.size; }
    // The region's pages as this process maps them, read-only (see LbRegion::memory).
    [[nodiscard]] std::span<const std::byte> memory() const noexcept {
        return {reinterpret_cast<const std::byte *>(map_.base), map_.size};
    }
    // The process that attached: the only one whose write_action is accepted.
    [[nodiscard]] int attached_pid() const noexcept { return owner_pid_; }

private: // hidden: called only inside the library, so not exported from it
    [[gnu::visibility("hidden")]] explicit AgentRegion(detail::Mapping map) noexcept;
    [[gnu::visibility("hidden")]] bool try_read_slot(std::uint64_t seq, Observation &out) const noexcept;

    detail::Mapping map_;
    std::uint64_t last_returned_ = 0; // newest sequence id returned to the caller
    std::uint64_t total_lost_ = 0;
    std::uint64_t pending_lost_ = 0; // lost counted by read_next calls that returned again
    std::uint64_t total_retries_ = 0;
    std::uint64_t total_fallbacks_ = 0;
    int owner_pid_ = 0;    // getpid() at attach
    std::uint64_t *token_ = nullptr;     // this process's token (agent_region.cpp), null: use getpid()
    std::uint64_t token_at_attach_ = 0;  // its value when this handle attached
    bool writing_ = false; // a write_action is under way on this handle (atomic builtins)
};

// Removes the region's name. Any side.
[[nodiscard]] Expected<void> unlink_region(std::string_view name,
                                           const Options &opts = default_options());

// The server set an action must answer: the LB's declared count (0: any) and the first
// observation sequence id of the set (0: from the start).
struct ServerSet {
    std::uint32_t num_servers = 0;
    std::uint64_t first_seq = 0;
};
// Any side: the checks the LB applies to every action's message (the LB also checks the
// meta the agent writes beside it: MARLLB_ACTION_META). They read the action more than once:
// pass memory nothing writes meanwhile (the LB checks its private copy of the slot).
[[nodiscard]] RejectReason validate_action(const MsgIn &action, std::uint64_t newest_seq,
                                           ServerSet set = {}) noexcept;

} // namespace marllb::shm
#pragma GCC visibility pop
