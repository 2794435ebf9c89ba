// The C API: opaque handles over the C++ role classes; errors as marllb_status_t plus a
// thread-local sentence in marllb_last_error(). Nothing here throws: allocation uses
// nothrow new and the C++ layer reports through std::expected.
#include "internal.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <new>

using namespace marllb::shm;

struct marllb_lb {
    LbRegion region;
};
struct marllb_agent {
    AgentRegion region;
};

namespace {

thread_local std::string t_last_error;

int fail(const Error &e) {
    t_last_error = e.message;
    return int(e.code);
}

int fail_null(const char *fn) {
    t_last_error = std::string(fn) + ": a required pointer argument is NULL";
    return MARLLB_E_INVAL;
}

constexpr std::uint32_t kKnownOptFlags =
    MARLLB_OPT_RAW_RESERVOIRS | MARLLB_OPT_HUGEPAGES | MARLLB_OPT_GROUP_SHARED | MARLLB_OPT_ALLOW_STALE;
static_assert(MARLLB_OPTIONS_MIN_SIZE <= sizeof(marllb_options_t));

// The caller's options (NULL: the defaults) as this library knows them, into `out`. The
// caller's struct_size says how many bytes it vouches for: a caller built against an older
// header passes fewer (none exists yet below MARLLB_OPTIONS_MIN_SIZE), one built against a
// newer header more, which are accepted only when zero (newer options left at their default).
int take_options(const char *fn, const marllb_options_t *opts, Options &out) {
    out = default_options();
    if (!opts) return MARLLB_OK;
    const std::uint32_t n = opts->struct_size;
    if (n == 0) {
        t_last_error = std::string(fn) + ": options.struct_size is 0, so the options were never initialised; "
                                         "call marllb_options_init(&opts) before setting fields, or pass NULL for the defaults";
        return MARLLB_E_INVAL;
    }
    if (n < MARLLB_OPTIONS_MIN_SIZE) {
        t_last_error = std::string(fn) + ": options.struct_size is " + std::to_string(n) +
                       ", smaller than any marllb_options_t (at least " + std::to_string(MARLLB_OPTIONS_MIN_SIZE) +
                       " bytes); initialise the options with marllb_options_init, never set struct_size by hand";
        return MARLLB_E_INVAL;
    }
    if (n > sizeof(marllb_options_t)) {
        const auto *extra = reinterpret_cast<const unsigned char *>(opts) + sizeof(marllb_options_t);
        for (std::uint32_t i = 0; i < n - sizeof(marllb_options_t); ++i) {
            if (extra[i] == 0) continue;
            t_last_error = std::string(fn) + ": options.struct_size is " + std::to_string(n) + " but this library knows " +
                           std::to_string(sizeof(marllb_options_t)) + " bytes of options, and byte " +
                           std::to_string(sizeof(marllb_options_t) + i) +
                           " is set: an option newer than this library; link the library that matches your "
                           "marllb/shm.h, or leave the newer options at their default";
            return MARLLB_E_INVAL;
        }
    }
    // Fields beyond the caller's struct_size keep their defaults (none yet: every accepted
    // struct_size covers all of today's fields).
    std::memcpy(&out, opts, std::min<std::size_t>(n, sizeof out));
    out.struct_size = sizeof out;
    if (out.flags & ~kKnownOptFlags) {
        char bits[16];
        std::snprintf(bits, sizeof bits, "0x%x", unsigned(out.flags & ~kKnownOptFlags));
        t_last_error = std::string(fn) + ": options.flags has bits " + bits +
                       " that are no MARLLB_OPT_* of this library; use only the MARLLB_OPT_* flags of marllb/shm.h";
        return MARLLB_E_INVAL;
    }
    return MARLLB_OK; // numa_node and num_servers: checked by the C++ calls, with their messages
}

template <class Handle, class Region>
int hand_out(Expected<Region> r, Handle **out) {
    if (!r) return fail(r.error());
    auto *h = new (std::nothrow) Handle{std::move(*r)};
    if (!h) {
        t_last_error = "out of memory for a region handle";
        return MARLLB_E_NOMEM;
    }
    *out = h;
    return MARLLB_OK;
}

} // namespace

void marllb::shm::detail::set_last_error(std::string sentence) noexcept { t_last_error = std::move(sentence); }

extern "C" {

const char *marllb_last_error(void) { return t_last_error.c_str(); }

const char *marllb_strerror(int status) { return describe(Errc(status)); }

uint64_t marllb_now_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

uint64_t marllb_now_realtime_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u;
}

int marllb_lb_create(const char *name, const marllb_options_t *opts, marllb_lb_t **out) {
    if (!name || !out) return fail_null("marllb_lb_create");
    Options o;
    if (int rc = take_options("marllb_lb_create", opts, o); rc != MARLLB_OK) return rc;
    return hand_out(LbRegion::create(name, o), out);
}

int marllb_lb_reopen(const char *name, const marllb_options_t *opts, marllb_lb_t **out,
                     marllb_reopen_report_t *report) {
    if (!name || !out) return fail_null("marllb_lb_reopen");
    Options o;
    if (int rc = take_options("marllb_lb_reopen", opts, o); rc != MARLLB_OK) return rc;
    const int rc = hand_out(LbRegion::reopen(name, o), out);
    if (rc == MARLLB_OK && report) *report = (*out)->region.reopen_report();
    return rc;
}

int marllb_lb_open(const char *name, const marllb_options_t *opts, marllb_lb_t **out,
                   marllb_reopen_report_t *report) {
    if (!name || !out) return fail_null("marllb_lb_open");
    Options o;
    if (int rc = take_options("marllb_lb_open", opts, o); rc != MARLLB_OK) return rc;
    const int rc = hand_out(LbRegion::open(name, o), out);
    if (rc == MARLLB_OK && report) *report = (*out)->region.reopen_report();
    return rc;
}

void marllb_lb_close(marllb_lb_t *lb) { delete lb; }

void marllb_lb_reopen_report(const marllb_lb_t *lb, marllb_reopen_report_t *out) {
    *out = lb->region.reopen_report();
}

void marllb_lb_prefetch_next(const marllb_lb_t *lb) { lb->region.prefetch_next_slot(); }
void marllb_agent_rehearse(const marllb_agent_t *agent) { agent->region.rehearse(); }
void marllb_lb_rehearse(const marllb_lb_t *lb) { lb->region.rehearse(); }

uint64_t marllb_lb_publish(marllb_lb_t *lb, marllb_msg_out_t *msg, const marllb_reservoir_data_t *raw) {
    const uint64_t seq = lb->region.publish(*msg, raw);
    if (seq == 0) t_last_error = "raw reservoirs given, but the region was created without them (MARLLB_OPT_RAW_RESERVOIRS)";
    return seq;
}

int marllb_lb_poll_action(marllb_lb_t *lb, marllb_action_reject_t *reason) {
    const PollResult r = lb->region.poll_action();
    if (reason) *reason = r.reason;
    return int(r.status);
}

const marllb_msg_in_t *marllb_lb_action(const marllb_lb_t *lb) { return lb->region.action(); }

int marllb_lb_set_servers(marllb_lb_t *lb, uint32_t num_servers) {
    if (lb->region.set_servers(num_servers) == Errc::ok) return MARLLB_OK;
    t_last_error = "marllb_lb_set_servers: num_servers is " + std::to_string(num_servers) +
                   "; an LB has 1..64 servers (nothing changed)";
    return MARLLB_E_INVAL;
}

uint32_t marllb_lb_num_servers(const marllb_lb_t *lb) { return lb->region.num_servers(); }

uint64_t marllb_lb_server_set_seq(const marllb_lb_t *lb) { return lb->region.server_set_seq(); }

void marllb_lb_heartbeat(marllb_lb_t *lb) { lb->region.heartbeat(); }

int marllb_lb_agent_alive(const marllb_lb_t *lb, uint64_t timeout_ns) {
    return lb->region.agent_alive(timeout_ns) ? 1 : 0;
}

uint64_t marllb_lb_generation(const marllb_lb_t *lb) { return lb->region.generation(); }

uint64_t marllb_lb_next_seq(const marllb_lb_t *lb) { return lb->region.next_sequence(); }

uint32_t marllb_lb_action_generation(const marllb_lb_t *lb) { return lb->region.action_generation(); }

uint64_t marllb_lb_action_write_mono_ns(const marllb_lb_t *lb) { return lb->region.action_write_mono_ns(); }

void marllb_lb_get_counters(const marllb_lb_t *lb, marllb_lb_counters_t *out) { *out = lb->region.counters(); }

int marllb_lb_has_reservoirs(const marllb_lb_t *lb) { return lb->region.has_reservoirs() ? 1 : 0; }

int marllb_lb_huge_pages(const marllb_lb_t *lb) { return lb->region.huge_pages() ? 1 : 0; }

int marllb_lb_agent_pid(const marllb_lb_t *lb) { return lb->region.agent_pid(); }

const char *marllb_lb_path(const marllb_lb_t *lb) { return lb->region.path().c_str(); }

size_t marllb_lb_size(const marllb_lb_t *lb) { return lb->region.size(); }

const char *marllb_lb_notes(const marllb_lb_t *lb) { return lb->region.notes().c_str(); }

int marllb_agent_attach(const char *name, const marllb_options_t *opts, marllb_agent_t **out) {
    if (!name || !out) return fail_null("marllb_agent_attach");
    Options o;
    if (int rc = take_options("marllb_agent_attach", opts, o); rc != MARLLB_OK) return rc;
    return hand_out(AgentRegion::attach(name, o), out);
}

void marllb_agent_close(marllb_agent_t *agent) { delete agent; }

int marllb_agent_read_newest(marllb_agent_t *agent, marllb_observation_t *out) {
    return int(agent->region.read_newest(*out));
}

int marllb_agent_read_next(marllb_agent_t *agent, marllb_observation_t *out) {
    return int(agent->region.read_next(*out));
}

uint64_t marllb_agent_published_seq(const marllb_agent_t *agent) { return agent->region.published_sequence(); }

uint64_t marllb_agent_last_returned(const marllb_agent_t *agent) { return agent->region.last_returned(); }

uint64_t marllb_agent_total_lost(const marllb_agent_t *agent) { return agent->region.total_lost(); }

uint64_t marllb_agent_pending_lost(const marllb_agent_t *agent) { return agent->region.pending_lost(); }

uint64_t marllb_agent_total_retries(const marllb_agent_t *agent) { return agent->region.total_retries(); }

uint64_t marllb_agent_total_fallbacks(const marllb_agent_t *agent) { return agent->region.total_fallbacks(); }

int marllb_agent_has_reservoirs(const marllb_agent_t *agent) { return agent->region.has_reservoirs() ? 1 : 0; }

int marllb_agent_lb_pid(const marllb_agent_t *agent) { return agent->region.lb_pid(); }

int marllb_agent_attached_pid(const marllb_agent_t *agent) { return agent->region.attached_pid(); }

uint32_t marllb_agent_num_servers(const marllb_agent_t *agent) { return agent->region.num_servers(); }

uint64_t marllb_agent_server_set_seq(const marllb_agent_t *agent) { return agent->region.server_set_seq(); }

const char *marllb_agent_path(const marllb_agent_t *agent) { return agent->region.path().c_str(); }

size_t marllb_agent_size(const marllb_agent_t *agent) { return agent->region.size(); }

int marllb_agent_read_reservoirs(marllb_agent_t *agent, uint64_t seq, marllb_reservoir_data_t *out) {
    const Errc e = agent->region.read_reservoirs(seq, *out);
    if (e == Errc::invalid)
        t_last_error = agent->region.has_reservoirs()
                           ? "observation " + std::to_string(seq) + " has not been published"
                           : "the region was created without raw reservoirs";
    else if (e == Errc::gone)
        t_last_error = "the reservoirs of observation " + std::to_string(seq) +
                       " are not available: overwritten by newer ones, or it was published without them; "
                       "read a newer observation";
    return int(e);
}

int marllb_agent_write_action(marllb_agent_t *agent, const marllb_msg_in_t *action,
                              uint32_t obs_generation, marllb_action_reject_t *reason) {
    if (!action) return fail_null("marllb_agent_write_action");
    marllb_action_reject_t r = MARLLB_ACTION_OK;
    const Errc e = agent->region.write_action(*action, obs_generation, &r);
    if (reason) *reason = r;
    if (e == Errc::rejected) t_last_error = std::string("action rejected: ") + describe(r);
    if (e == Errc::busy)
        t_last_error = "action not written: this handle belongs to the agent process " +
                       std::to_string(agent->region.attached_pid()) + " and one thread of it at a time; "
                       "a process forked after attach must attach its own handle (after the parent closes), "
                       "threads must take turns";
    return int(e);
}

void marllb_agent_heartbeat(marllb_agent_t *agent) { agent->region.heartbeat(); }

int marllb_agent_lb_alive(const marllb_agent_t *agent, uint64_t timeout_ns) {
    return agent->region.lb_alive(timeout_ns) ? 1 : 0;
}

void marllb_agent_verdicts(const marllb_agent_t *agent, marllb_verdicts_t *out) {
    *out = agent->region.verdicts();
}

int marllb_unlink(const char *name, const marllb_options_t *opts) {
    if (!name) return fail_null("marllb_unlink");
    Options o;
    if (int rc = take_options("marllb_unlink", opts, o); rc != MARLLB_OK) return rc;
    auto r = unlink_region(name, o);
    return r ? MARLLB_OK : fail(r.error());
}

} // extern "C"

namespace marllb::shm {
const char *describe(Errc code) noexcept {
    switch (code) {
    case Errc::ok: return "ok";
    case Errc::no_region: return "no such region";
    case Errc::exists: return "region already exists";
    case Errc::bad_magic: return "not a marllb region (wrong magic)";
    case Errc::bad_version: return "region made by another ABI version";
    case Errc::bad_size: return "region file has the wrong size";
    case Errc::bad_layout: return "region section table does not match this build";
    case Errc::stale: return "region is stale: its LB is gone";
    case Errc::busy: return "another live process holds this role on the region";
    case Errc::not_ready: return "region is being created";
    case Errc::no_space: return "no space left for the region";
    case Errc::permission: return "permission denied";
    case Errc::invalid: return "invalid argument";
    case Errc::again: return "nothing new yet";
    case Errc::gone: return "data overwritten by newer data";
    case Errc::no_memory: return "out of memory";
    case Errc::rejected: return "action rejected";
    case Errc::system: return "system error";
    }
    return "unknown marllb status";
}
} // namespace marllb::shm
