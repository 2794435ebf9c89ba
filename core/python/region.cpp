#include "region.hpp"

#include "arguments.hpp"
#include "observation_objects.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <sys/stat.h>
#include <thread>

namespace py = pybind11;
namespace shm = marllb::shm;

namespace marllb_py {

namespace {

constexpr double kMaxSeconds = 86400; // a timeout beyond a day is a unit mistake

[[noreturn]] void raise(const shm::Error &e) { raise_region(e.code, e.message); }

// The core's messages name its C calls and flags; a Python caller is told the Python way.
std::string in_python_terms(std::string s) {
    static const std::pair<const char *, const char *> kTerms[] = {
        {"marllb_lb_open replaces it", "SharedMemoryRegion(name, create=True) replaces it"},
        {"(marllb_lb_open/reopen)", "(SharedMemoryRegion(name, create=True))"},
        {"marllb_unlink or rm", "SharedMemoryRegion.unlink() or rm"},
        {"MARLLB_OPT_GROUP_SHARED", "group_shared=True"},
        {"MARLLB_OPT_RAW_RESERVOIRS", "raw_reservoirs=True"},
        {"marllb_agent_num_servers", "region.num_servers"},
        {"marllb_agent_write_action", "write_action"},
        {"(marllb_alias_build does)", "(write_action does)"},
        {"(rebuild it with marllb_alias_build)", "(write_action builds it from the weights)"},
    };
    for (const auto &[c, py_way] : kTerms)
        for (std::size_t at = s.find(c); at != std::string::npos; at = s.find(c, at + std::strlen(py_way)))
            s.replace(at, std::strlen(c), py_way);
    return s;
}

// Runs `done` with the GIL released every 50 us until it returns true or `timeout_s` passes.
// `done` must touch nothing but the mapping's published words (other Python threads run).
template <class F> bool poll_released(double timeout_s, unsigned &waiting, F done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    bool got = false;
    ++waiting; // under the GIL: close() sees it
    {
        py::gil_scoped_release release;
        while (!(got = done()) && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    --waiting;
    return got;
}

std::uint32_t server_count_arg(py::handle v, const char *what) {
    if (PyBool_Check(v.ptr()) || !PyIndex_Check(v.ptr()))
        throw py::type_error(std::string(what) + " is " + std::string(py::repr(v)) +
                             ": it must be the LB's number of servers, an int in 1..64");
    int overflow = 0;
    auto idx = py::reinterpret_steal<py::object>(PyNumber_Index(v.ptr()));
    if (!idx) throw py::error_already_set();
    const long long n = PyLong_AsLongLongAndOverflow(idx.ptr(), &overflow);
    if (overflow != 0 || n < 1 || n > MARLLB_MAX_AS)
        throw py::value_error(std::string(what) + " is " + std::string(py::repr(idx)) + ": an LB has 1..64 servers");
    return std::uint32_t(n);
}

} // namespace

const char *code_name(shm::Errc code) noexcept {
    switch (code) {
    case shm::Errc::no_region: return "no_region";
    case shm::Errc::exists: return "exists";
    case shm::Errc::bad_magic: return "not_a_region";
    case shm::Errc::bad_version: return "version";
    case shm::Errc::bad_size: return "size";
    case shm::Errc::bad_layout: return "layout";
    case shm::Errc::stale: return "stale";
    case shm::Errc::busy: return "busy";
    case shm::Errc::not_ready: return "not_ready";
    case shm::Errc::no_space: return "no_space";
    case shm::Errc::permission: return "permission";
    case shm::Errc::invalid: return "invalid";
    case shm::Errc::again: return "again";
    case shm::Errc::gone: return "gone";
    case shm::Errc::no_memory: return "no_memory";
    case shm::Errc::rejected: return "rejected";
    default: return "system";
    }
}

void raise_region(shm::Errc code, const std::string &message) {
    const std::string m = in_python_terms(message);
    if (code == shm::Errc::no_region || code == shm::Errc::not_ready) throw NoRegionError(m, code_name(code));
    if (code == shm::Errc::gone) throw ReservoirsGone(m);
    throw RegionError(m, code_name(code));
}

namespace {
PyObject *g_region_error = nullptr, *g_no_region_error = nullptr, *g_reservoirs_gone = nullptr;

void set_python_error(PyObject *type, const RegionError &e) {
    // A message may carry a path's bytes that are not UTF-8 (a dir given as bytes): shown
    // escaped, so the caller still gets this error and not a UnicodeDecodeError.
    const std::string what = e.what();
    auto text = py::reinterpret_steal<py::object>(
        PyUnicode_DecodeUTF8(what.data(), py::ssize_t(what.size()), "backslashreplace"));
    if (!text) throw py::error_already_set();
    py::object value = py::handle(type)(text);
    value.attr("code") = e.code;
    PyErr_SetObject(type, value.ptr());
}
} // namespace

void init_region_errors(py::module_ &m) {
    // Types with a .code attribute (a class default of None; each raised one sets its own).
    auto make = [&](const char *name, PyObject *base, const char *doc) {
        PyObject *t = PyErr_NewExceptionWithDoc((std::string("marllb.shm.") + name).c_str(), doc, base, nullptr);
        if (!t) throw py::error_already_set();
        m.add_object(name, py::handle(t));
        py::handle(t).attr("code") = py::none();
        return t;
    };
    g_region_error = make("RegionError", PyExc_RuntimeError,
                          "A region fault; .code says which: 'no_region', 'not_ready', 'exists', 'not_a_region',\n"
                          "'version', 'size', 'layout', 'stale', 'busy', 'no_space', 'permission', 'invalid',\n"
                          "'gone', 'system'; or a misuse of the object: 'role', 'closed', 'busy_wait', 'usage'.");
    g_no_region_error = make("NoRegionError", g_region_error, "No region yet, or being created: wait and retry.");
    g_reservoirs_gone = make("ReservoirsGone", g_region_error, "The observation's raw reservoirs are not in the region.");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const ReservoirsGone &e) {
            set_python_error(g_reservoirs_gone, e);
        } catch (const NoRegionError &e) {
            set_python_error(g_no_region_error, e);
        } catch (const RegionError &e) {
            set_python_error(g_region_error, e);
        }
    });
}

Region::Region(std::string name, bool create, bool raw_reservoirs, py::handle dir, py::handle num_servers,
               bool group_shared)
    : name_(std::move(name)), dir_(directory_arg(dir).value_or("")) {
    check_no_nul(name_, "the region name");
    const std::uint32_t n = num_servers.is_none() ? 0 : server_count_arg(num_servers, "num_servers");
    shm::Options o = shm::default_options();
    if (!dir_.empty()) o.dir = dir_.c_str();
    if (create) {
        // Create, or reopen as a restarting LB (sequence ids continue, the action in force is
        // re-adopted): what an LB process does at start.
        if (raw_reservoirs) o.flags |= MARLLB_OPT_RAW_RESERVOIRS;
        if (group_shared) o.flags |= MARLLB_OPT_GROUP_SHARED;
        o.num_servers = n;
        auto r = shm::LbRegion::open(name_, o);
        if (!r) raise(r.error());
        // A reopened region keeps what its creator chose: asked for otherwise, say so now
        // rather than publish without reservoirs (or share it with a group) silently.
        if (raw_reservoirs && !r->has_reservoirs())
            throw RegionError("region '" + name_ + "' exists without raw reservoirs (a previous LB made it so): remove "
                              "it first (SharedMemoryRegion.unlink() or rm " + r->path() +
                              ") to make it with them, or open it with raw_reservoirs=False",
                              "layout");
        if (group_shared) {
            struct stat st{};
            if (::stat(r->path().c_str(), &st) == 0 && (st.st_mode & 0777) != 0660)
                throw RegionError("region '" + name_ + "' exists with mode 0" + std::to_string((st.st_mode >> 6) & 7) +
                                      std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) +
                                      ", not group-shared (0660): remove it first to make it group-shared, or open "
                                      "it with group_shared=False",
                                  "layout");
        }
        lb_.emplace(std::move(*r));
    } else {
        if (raw_reservoirs || group_shared)
            throw py::value_error("raw_reservoirs and group_shared are the LB's choices (create=True); an agent "
                                  "attaches to the region as its LB made it");
        auto a = shm::AgentRegion::attach(name_, o);
        if (!a) raise(a.error());
        agent_.emplace(std::move(*a));
        // An agent built for n servers checks the LB it attached to.
        if (n != 0 && agent_->num_servers() != 0 && agent_->num_servers() != n) {
            const std::uint32_t lb_n = agent_->num_servers();
            agent_.reset();
            throw RegionError("region '" + name_ + "' belongs to an LB of " + std::to_string(lb_n) +
                                  " servers, not num_servers=" + std::to_string(n) +
                                  ": attach an agent built for its server set",
                              "server_count");
        }
    }
}

std::uint32_t Region::num_servers() const {
    if (lb_) return lb_->num_servers();
    if (agent_) return agent_->num_servers();
    throw RegionError("the region is closed", "closed");
}

std::uint64_t Region::server_set_seq() const {
    if (lb_) return lb_->server_set_seq();
    if (agent_) return agent_->server_set_seq();
    throw RegionError("the region is closed", "closed");
}

// Arguments are converted before a side is fetched, here and below: a conversion may run the
// caller's code (__index__, __float__), and that code may close this region (or let another
// thread close it), which would leave a reference taken before it dangling.
void Region::set_servers(py::handle num_servers) {
    const std::uint32_t n = server_count_arg(num_servers, "num_servers");
    (void)lb_side().set_servers(n); // in range: cannot fail
}

std::string Region::role() const { return lb_ ? "lb" : agent_ ? "agent" : "closed"; }

std::uint64_t Region::last_sequence() const {
    return agent_ ? agent_->last_returned() : lb_ ? lb_->next_sequence() - 1 : 0;
}

shm::AgentRegion &Region::agent() {
    if (!agent_)
        throw RegionError(lb_ ? "this is the LB side (create=True): the agent side attaches with create=False"
                              : "the region is closed",
                          lb_ ? "role" : "closed");
    return *agent_;
}

shm::LbRegion &Region::lb_side() {
    if (!lb_)
        throw RegionError(agent_ ? "this is the agent side: only the LB (create=True) writes observations and reads actions"
                                 : "the region is closed",
                          agent_ ? "role" : "closed");
    return *lb_;
}

// Newer than anything returned, or false. The published word is checked first: when nothing
// is newer that is the whole cost, and it holds whether the core's read_newest answers "again"
// or hands back the observation already returned.
bool Region::newest(shm::Observation &o) {
    auto &a = agent();
    const std::uint64_t before = a.last_returned();
    if (a.published_sequence() <= before) return false;
    const shm::Errc rc = a.read_newest(o);
    if (rc == shm::Errc::again) return false; // every candidate was being overwritten
    if (rc != shm::Errc::ok) raise_region(rc, shm::describe(rc));
    if (o.msg.sequence_id <= before) return false;
    obs_generation_ = o.generation;
    return true;
}

bool Region::next(shm::Observation &o) {
    const shm::Errc rc = agent().read_next(o);
    if (rc == shm::Errc::again) return false;
    if (rc != shm::Errc::ok) raise_region(rc, shm::describe(rc));
    obs_generation_ = o.generation;
    return true;
}

py::object Region::read_observation() {
    shm::Observation o;
    return newest(o) ? seed_dict(o, ReadKind::newest, pool_) : py::none();
}

py::object Region::read_observation_arrays() {
    shm::Observation o;
    return newest(o) ? arrays_dict(o, ReadKind::newest) : py::none();
}

py::object Region::read_next_observation() {
    shm::Observation o;
    return next(o) ? seed_dict(o, ReadKind::next, pool_) : py::none();
}

py::object Region::read_next_observation_arrays() {
    shm::Observation o;
    return next(o) ? arrays_dict(o, ReadKind::next) : py::none();
}

py::object Region::wait_observation(py::object after, py::handle timeout, bool arrays) {
    const double t = seconds_arg(timeout, "timeout", 0, false, kMaxSeconds);
    const std::uint64_t after_seq = after.is_none() ? 0 : sequence_arg(after, "after");
    const std::uint64_t since = std::max(agent().last_returned(), after_seq);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(t);
    for (;;) {
        const double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
        auto &a = agent(); // again each turn: the read below builds Python objects, whose finalizers may close
        if (!poll_released(std::max(left, 0.0), waiting_, [&] { return a.published_sequence() > since; }))
            return py::none();
        py::object r = arrays ? read_observation_arrays() : read_observation();
        if (!r.is_none()) return r;
        // Published but every candidate was being overwritten: wait on until the deadline.
    }
}

py::object Region::read_reservoirs(py::handle sequence_id, py::handle out) {
    const std::optional<std::uint64_t> asked =
        sequence_id.is_none() ? std::nullopt : std::optional(sequence_arg(sequence_id, "sequence_id"));
    auto &a = agent();
    if (!a.has_reservoirs())
        throw RegionError("region '" + name_ + "' has no raw reservoirs: its LB must create it with them "
                          "(SharedMemoryRegion(name, create=True, raw_reservoirs=True); marllb-sim --raw-reservoirs)",
                          "no_reservoirs");
    const std::uint64_t seq = asked.value_or(a.last_returned());
    if (seq == 0) throw py::value_error("no observation read yet: read one first, or pass its sequence_id");
    py::array buf;
    if (out.is_none()) {
        buf = py::array(reservoir_dtype(), std::vector<py::ssize_t>{});
    } else {
        if (!py::isinstance<py::array>(out)) throw py::type_error("out must be np.zeros((), marllb.shm.RESERVOIR_DTYPE)");
        buf = py::reinterpret_borrow<py::array>(out);
        if (!buf.dtype().equal(reservoir_dtype()) || buf.size() != 1 || !buf.writeable() ||
            !(buf.flags() & py::array::c_style) || reinterpret_cast<std::uintptr_t>(buf.data()) % alignof(shm::ReservoirData))
            throw py::value_error("out must be one writeable, aligned record of marllb.shm.RESERVOIR_DTYPE, "
                                  "e.g. np.zeros((), marllb.shm.RESERVOIR_DTYPE)");
    }
    // One copy, from the region straight into the array's memory, checked by the buffer's
    // seqlock. Never a view of the region: the LB rewrites each buffer two publishes later.
    const shm::Errc rc = a.read_reservoirs(seq, *static_cast<shm::ReservoirData *>(buf.mutable_data()));
    switch (rc) {
    case shm::Errc::ok: return reservoir_views(buf, seq);
    case shm::Errc::gone: // a state that never changes back (the C++ call never says again here)
        throw ReservoirsGone("the raw reservoirs of observation " + std::to_string(seq) +
                             " are not in the region: overwritten (the LB keeps those of the last 2) or published "
                             "without them; read a newer observation, then its reservoirs");
    case shm::Errc::invalid:
        throw py::value_error("observation " + std::to_string(seq) + " is not published yet (newest: " +
                              std::to_string(a.published_sequence()) + ")");
    default: raise_region(rc, shm::describe(rc));
    }
}

void Region::write_action(py::handle sequence_id, py::handle weights, py::handle num_servers) {
    shm::MsgIn act = parse_action(agent().num_servers(), sequence_id, weights, num_servers);
    auto &a = agent(); // after the parse, which runs the caller's __float__ and __index__
    act.timestamp_us = marllb_now_realtime_us();
    if (marllb_alias_build(act.weights, act.num_servers, act.alias_table) != MARLLB_OK)
        raise_action("no alias table can be built from these weights", "alias_mismatch");
    const shm::Verdicts before = a.verdicts();
    shm::RejectReason reason = MARLLB_ACTION_OK;
    const shm::Errc rc = a.write_action(act, obs_generation_ ? obs_generation_ : 1, &reason);
    if (rc == shm::Errc::rejected)
        raise_action("action for observation " + std::to_string(act.sequence_id) + " refused: " +
                         in_python_terms(shm::describe(reason)),
                     reason_code(reason));
    if (rc == shm::Errc::busy)
        throw RegionError("action not written: this region object belongs to the agent process " +
                              std::to_string(a.attached_pid()) + " and one thread of it at a time; a process forked "
                              "after it was opened opens its own (once the parent has closed this one), threads take turns",
                          "busy");
    if (rc != shm::Errc::ok) raise_region(rc, shm::describe(rc));
    written_ = Written{act.sequence_id, before};
}

py::dict Region::verdicts() {
    const shm::Verdicts v = agent().verdicts();
    const auto r = shm::RejectReason(v.last_reject_reason);
    py::dict d;
    d["applied_action_seq"] = v.applied_action_seq;
    d["applied_action_mono_ns"] = v.applied_action_ns;
    d["actions_applied"] = v.actions_applied;
    d["actions_rejected"] = v.actions_rejected;
    d["actions_stale"] = v.actions_stale;
    d["last_rejected_seq"] = v.last_rejected_seq;
    d["last_reject_reason"] = v.actions_rejected ? py::object(py::str(reason_code(r))) : py::object(py::none());
    d["last_reject_message"] = v.actions_rejected ? py::object(py::str(in_python_terms(shm::describe(r)))) : py::object(py::none());
    d["generation"] = v.generation;
    d["published_seq"] = v.published_seq;
    return d;
}

// The verdict on the last action written. The LB judges the newest action in the slot, counts
// the verdict and names its sequence id; a count that grew since this action was written, with
// its id, is this action's verdict. Exact while each observation is answered at most once
// (an action overwritten before the LB polled is never judged, and stays "pending").
py::dict Region::verdict_of_last_action(const shm::Verdicts &v) const {
    const auto &w = *written_;
    const auto &b = w.before;
    const char *status = "pending";
    py::object reason = py::none(), message = py::none();
    if (v.actions_rejected > b.actions_rejected && v.last_rejected_seq == w.seq) {
        status = "rejected";
        const auto r = shm::RejectReason(v.last_reject_reason);
        reason = py::str(reason_code(r));
        message = py::str(in_python_terms(shm::describe(r)));
    } else if (v.actions_applied > b.actions_applied && v.applied_action_seq == w.seq) {
        status = "applied";
    } else if (v.actions_stale > b.actions_stale && v.applied_action_seq >= w.seq) {
        status = "stale"; // valid, but the action in force answers a newer (or the same) observation
    }
    py::dict d;
    d["sequence_id"] = w.seq;
    d["status"] = status;
    d["reason"] = reason;
    d["message"] = message;
    return d;
}

py::dict Region::action_verdict(py::handle timeout) {
    const double t = seconds_arg(timeout, "timeout", 0, false, kMaxSeconds);
    auto &a = agent();
    if (!written_) throw RegionError("no action written through this region yet: write_action first", "usage");
    const auto judged = [&] {
        const shm::Verdicts v = a.verdicts();
        const auto &b = written_->before;
        return v.actions_applied + v.actions_rejected + v.actions_stale >
               b.actions_applied + b.actions_rejected + b.actions_stale;
    };
    if (t > 0 && !judged()) poll_released(t, waiting_, judged);
    return verdict_of_last_action(a.verdicts());
}

std::uint64_t Region::published_sequence() { return agent().published_sequence(); }
std::uint64_t Region::total_lost() { return agent().total_lost(); }
std::uint64_t Region::pending_lost() { return agent().pending_lost(); }

std::uint64_t Region::write_observation(py::handle n_flow_on_arg, py::handle features_arg, py::handle reservoirs) {
    const ObservationArgs args = parse_observation(n_flow_on_arg, features_arg);
    const auto &n_flow_on = args.n_flow_on;
    auto &lb = lb_side(); // after the parse, which may run the caller's __index__
    if (lb.num_servers() != 0 && n_flow_on.size() != lb.num_servers())
        throw py::value_error("n_flow_on has " + std::to_string(n_flow_on.size()) + " entries but this LB declared " +
                              std::to_string(lb.num_servers()) + " servers: publish one per server, or announce the "
                              "new set first (set_servers)");
    shm::MsgOut m{};
    m.num_active_as = std::uint32_t(n_flow_on.size());
    m.active_as_bitmap = n_flow_on.size() == 64 ? ~0ull : (1ull << n_flow_on.size()) - 1;
    for (std::size_t s = 0; s < n_flow_on.size(); ++s) m.as_stats[s].n_flow_on = n_flow_on[s];
    if (args.features) {
        auto f = args.features->unchecked<2>();
        for (std::size_t s = 0; s < n_flow_on.size(); ++s)
            for (unsigned k = 0; k < MARLLB_FEATURES_PER_AS; ++k)
                m.as_stats[s].reservoir_features[k] = f(py::ssize_t(s), k);
    }
    const shm::ReservoirData *raw = nullptr;
    if (!reservoirs.is_none()) {
        auto r = py::reinterpret_borrow<py::array>(reservoirs);
        if (!py::isinstance<py::array>(reservoirs) || !r.dtype().equal(reservoir_dtype()) || r.size() != 1 ||
            !(r.flags() & py::array::c_style) || reinterpret_cast<std::uintptr_t>(r.data()) % alignof(shm::ReservoirData))
            throw py::value_error("reservoirs must be one aligned record of marllb.shm.RESERVOIR_DTYPE");
        raw = static_cast<const shm::ReservoirData *>(r.data());
    }
    const std::uint64_t seq = lb.publish(m, raw);
    if (seq == 0) // only when reservoirs are given to a region without them
        throw RegionError("region '" + name_ + "' has no raw reservoirs: nothing was published; publish without "
                          "reservoirs=, or make the region with raw_reservoirs=True",
                          "no_reservoirs");
    return seq;
}

// The action in force after polling the slot: a dict, or None before any valid action.
py::object Region::read_action() {
    auto &lb = lb_side();
    const shm::PollResult p = lb.poll_action();
    if (!lb.action()) return py::none();
    // A copy: building the dict may run finalizers (a garbage collection), which may close this
    // region and with it the LB's action in force.
    const shm::MsgIn a = *lb.action();
    py::dict d;
    d["sequence_id"] = a.sequence_id;
    d["timestamp"] = double(a.timestamp_us) / 1e6;
    d["num_servers"] = a.num_servers;
    d["weights"] = std::vector<float>(a.weights, a.weights + a.num_servers);
    d["status"] = p.status == MARLLB_POLL_APPLIED    ? "applied"
                  : p.status == MARLLB_POLL_REJECTED ? "rejected"
                  : p.status == MARLLB_POLL_STALE    ? "stale"
                                                     : "unchanged";
    if (p.status == MARLLB_POLL_REJECTED) d["reason"] = in_python_terms(shm::describe(p.reason));
    return d;
}

void Region::heartbeat() {
    if (lb_) lb_->heartbeat();
    else agent().heartbeat();
}

bool Region::peer_alive(py::handle timeout) const {
    const double t = seconds_arg(timeout, "timeout", 0, true, kMaxSeconds);
    const auto ns = std::uint64_t(t * 1e9);
    if (lb_) return lb_->agent_alive(ns);
    if (agent_) return agent_->lb_alive(ns);
    throw RegionError("the region is closed", "closed");
}

void Region::close() {
    if (waiting_)
        throw RegionError("another thread is waiting on this region: close it after the wait returns", "busy_wait");
    lb_.reset();
    agent_.reset();
    pool_.clear();
}

void Region::unlink() {
    close();
    shm::Options o = shm::default_options();
    if (!dir_.empty()) o.dir = dir_.c_str();
    if (auto r = shm::unlink_region(name_, o); !r) raise(r.error());
}

} // namespace marllb_py
