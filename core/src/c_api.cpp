// The C API: opaque handles over the C++ role classes; errors as marllb_status_t plus a
// thread-local sentence in marllb_last_error(). Nothing here throws: allocation uses
// nothrow new and the C++ layer reports through std::expected.
#include "internal.hpp"

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

const Options &options_or_default(const marllb_options_t *opts, Options &storage) {
    if (opts) return *opts;
    storage = default_options();
    return storage;
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
    return hand_out(LbRegion::create(name, options_or_default(opts, o)), out);
}

int marllb_lb_reopen(const char *name, const marllb_options_t *opts, marllb_lb_t **out,
                     marllb_reopen_report_t *report) {
    if (!name || !out) return fail_null("marllb_lb_reopen");
    Options o;
    const int rc = hand_out(LbRegion::reopen(name, options_or_default(opts, o)), out);
    if (rc == MARLLB_OK && report) *report = (*out)->region.reopen_report();
    return rc;
}

int marllb_lb_open(const char *name, const marllb_options_t *opts, marllb_lb_t **out,
                   marllb_reopen_report_t *report) {
    if (!name || !out) return fail_null("marllb_lb_open");
    Options o;
    const int rc = hand_out(LbRegion::open(name, options_or_default(opts, o)), out);
    if (rc == MARLLB_OK && report) *report = (*out)->region.reopen_report();
    return rc;
}

void marllb_lb_close(marllb_lb_t *lb) { delete lb; }

void marllb_lb_prefetch_next(const marllb_lb_t *lb) { lb->region.prefetch_next_slot(); }

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

void marllb_lb_heartbeat(marllb_lb_t *lb) { lb->region.heartbeat(); }

int marllb_lb_agent_alive(const marllb_lb_t *lb, uint64_t timeout_ns) {
    return lb->region.agent_alive(timeout_ns) ? 1 : 0;
}

uint64_t marllb_lb_generation(const marllb_lb_t *lb) { return lb->region.generation(); }

const char *marllb_lb_notes(const marllb_lb_t *lb) { return lb->region.notes().c_str(); }

int marllb_agent_attach(const char *name, const marllb_options_t *opts, marllb_agent_t **out) {
    if (!name || !out) return fail_null("marllb_agent_attach");
    Options o;
    return hand_out(AgentRegion::attach(name, options_or_default(opts, o)), out);
}

void marllb_agent_close(marllb_agent_t *agent) { delete agent; }

int marllb_agent_read_newest(marllb_agent_t *agent, marllb_observation_t *out) {
    return int(agent->region.read_newest(*out));
}

int marllb_agent_read_next(marllb_agent_t *agent, marllb_observation_t *out) {
    return int(agent->region.read_next(*out));
}

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
    auto r = unlink_region(name, options_or_default(opts, o));
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
