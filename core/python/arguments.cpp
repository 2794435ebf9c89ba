#include "arguments.hpp"

#include <pybind11/numpy.h>

#include <cfloat>
#include <cmath>

namespace py = pybind11;
using marllb::shm::MsgIn;

namespace marllb_py {

namespace {

PyObject *g_action_rejected; // module-lifetime references
PyObject *g_action_type_error;
PyObject *g_numpy_bool;      // numpy.bool_: a bool that is not a Python bool

bool is_bool(py::handle o) {
    return PyBool_Check(o.ptr()) || PyObject_TypeCheck(o.ptr(), reinterpret_cast<PyTypeObject *>(g_numpy_bool));
}

std::string repr_of(py::handle o) { return py::repr(o).cast<std::string>(); }
std::string type_name(py::handle o) { return Py_TYPE(o.ptr())->tp_name; }
std::string num(double v) { return repr_of(py::float_(v)); }

// One weight, already a double: the checks the LB applies, plus what a float32 cannot hold.
// `what` names the weight and its value ("weights[3] is 1e-50").
[[noreturn]] void refuse_too_small(const std::string &what, std::size_t i) {
    raise_action(what + ": positive but below what a float32 holds (1.4e-45), so it would be 0; scale the weights "
                        "up, or pass 0 to take the server out",
                 "weight_too_small", i);
}

void check_weight(double v, std::size_t i) {
    const std::string at = "weights[" + std::to_string(i) + "] is " + num(v);
    if (!std::isfinite(v)) raise_action(at + ": weights must be finite numbers >= 0", "weight_not_finite", i);
    if (v < 0) raise_action(at + ": weights must be >= 0", "weight_negative", i);
    if (v > double(FLT_MAX))
        raise_action(at + ": larger than a float32 holds (3.4e38); scale the weights down", "weight_too_large", i);
    // A positive weight that float32 rounds to 0 would take its server out without a word.
    if (v > 0 && float(v) == 0.0f) refuse_too_small(at, i);
}

// A weight that converts to 0 although it is not 0 (a Decimal or Fraction below what a
// double holds, a longdouble): refused as too small when positive, as one float32 rounds to 0,
// and as negative when negative (its conversion, -0.0, would pass as a weight of 0).
void check_not_lost(py::handle item, std::size_t i) {
    const auto compare = [&](int op) {
        const int r = PyObject_RichCompareBool(item.ptr(), py::int_(0).ptr(), op);
        if (r < 0) PyErr_Clear(); // not comparable with 0: its conversion's 0 is all there is to judge
        return r > 0;
    };
    const auto at = [&] { return "weights[" + std::to_string(i) + "] is " + repr_of(item); };
    if (compare(Py_GT)) refuse_too_small(at(), i);
    if (compare(Py_LT)) raise_action(at() + ": weights must be >= 0", "weight_negative", i);
}

std::size_t parse_weights(py::handle weights, float (&out)[MARLLB_MAX_AS]) {
    const auto too_many = [](std::size_t n) {
        raise_action("weights has " + std::to_string(n) + " values: at most " + std::to_string(MARLLB_MAX_AS) +
                         " servers (weights[64] is the first one too many)",
                     "num_servers", MARLLB_MAX_AS);
    };
    if (py::isinstance<py::array>(weights)) {
        auto arr = py::reinterpret_borrow<py::array>(weights);
        const char kind = arr.dtype().kind();
        if (kind == 'b')
            raise_action("weights is a numpy array of bool: weights are numbers (e.g. float32)", "not_a_number",
                         std::nullopt, true);
        if (kind != 'f' && kind != 'i' && kind != 'u')
            raise_action("weights is a numpy array of dtype " + repr_of(arr.dtype()) + ": weights are real numbers",
                         "not_a_number", std::nullopt, true);
        if (arr.ndim() != 1)
            raise_action("weights must be 1-D (one weight per server), got shape " + repr_of(weights.attr("shape")),
                         "shape");
        const std::size_t n = std::size_t(arr.shape(0));
        if (n > MARLLB_MAX_AS) too_many(n);
        auto d = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(arr);
        if (!d) throw py::error_already_set();
        const double *p = d.data();
        // A wider float (longdouble) may hold a positive weight below what a double holds.
        const bool wider = kind == 'f' && arr.itemsize() > py::ssize_t(sizeof(double));
        for (std::size_t i = 0; i < n; ++i) {
            if (wider && p[i] == 0) check_not_lost(arr[py::int_(i)], i);
            check_weight(p[i], i);
            out[i] = float(p[i]);
        }
        return n;
    }
    if (PyUnicode_Check(weights.ptr()) || PyBytes_Check(weights.ptr()) || !PySequence_Check(weights.ptr()))
        raise_action("weights must be a list, tuple or 1-D numpy array of numbers, got " + type_name(weights),
                     "not_a_number", std::nullopt, true);
    // A tuple of the items, not the list itself: converting an item may run the caller's code
    // (__float__, __index__), which could shrink or refill a list while its items are read.
    // The tuple is immutable and holds a reference to each item until the loop ends.
    auto seq = py::reinterpret_steal<py::object>(PySequence_Tuple(weights.ptr()));
    if (!seq) throw py::error_already_set();
    const std::size_t n = std::size_t(PyTuple_GET_SIZE(seq.ptr()));
    if (n > MARLLB_MAX_AS) too_many(n);
    for (std::size_t i = 0; i < n; ++i) {
        py::handle item(PyTuple_GET_ITEM(seq.ptr(), py::ssize_t(i)));
        const std::string at = "weights[" + std::to_string(i) + "] is ";
        if (is_bool(item))
            raise_action(at + "a bool (" + repr_of(item) + "): weights are numbers", "not_a_number", i, true);
        const double v = PyFloat_AsDouble(item.ptr()); // float, int, numpy scalars (__float__/__index__)
        if (v == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            raise_action(at + "a " + type_name(item) + " (" + repr_of(item) + "): weights are numbers", "not_a_number", i,
                         true);
        }
        if (v == 0 && !PyFloat_Check(item.ptr()) && !PyLong_Check(item.ptr())) check_not_lost(item, i);
        check_weight(v, i);
        out[i] = float(v);
    }
    return n;
}

std::uint64_t parse_int(py::handle v, const char *what, const char *expected) {
    if (is_bool(v) || !PyIndex_Check(v.ptr()))
        raise_action(std::string(what) + " is a " + type_name(v) + " (" + repr_of(v) + "): " + expected, what,
                     std::nullopt, true);
    auto idx = py::reinterpret_steal<py::object>(PyNumber_Index(v.ptr()));
    if (!idx) throw py::error_already_set();
    int overflow = 0;
    const long long s = PyLong_AsLongLongAndOverflow(idx.ptr(), &overflow);
    if (overflow < 0 || (overflow == 0 && s < 0))
        raise_action(std::string(what) + " is " + repr_of(idx) + ": " + expected, what);
    if (overflow == 0) return std::uint64_t(s);
    const unsigned long long u = PyLong_AsUnsignedLongLong(idx.ptr());
    if (PyErr_Occurred()) {
        PyErr_Clear();
        raise_action(std::string(what) + " is " + repr_of(idx) + ": larger than 64 bits; " + expected, what);
    }
    return u;
}

} // namespace

void init_arguments(py::module_ &m) {
    g_numpy_bool = py::object(py::module_::import("numpy").attr("bool_")).release().ptr();
    g_action_rejected = PyErr_NewExceptionWithDoc(
        "marllb.shm.ActionRejected",
        "An action the LB would refuse, refused before it is written (a ValueError).\n"
        ".reason: a short code (the core's reason names, e.g. 'weight_negative', 'seq_from_future');\n"
        ".index: the offending weight's index, or None.",
        PyExc_ValueError, nullptr);
    if (!g_action_rejected) throw py::error_already_set();
    auto bases = py::make_tuple(py::handle(g_action_rejected), py::handle(PyExc_TypeError));
    g_action_type_error = PyErr_NewExceptionWithDoc(
        "marllb.shm.ActionTypeError",
        "An action argument of the wrong type (a bool or a str where a number belongs): both an\n"
        "ActionRejected and a TypeError.",
        bases.ptr(), nullptr);
    if (!g_action_type_error) throw py::error_already_set();
    m.attr("ActionRejected") = py::handle(g_action_rejected);
    m.attr("ActionTypeError") = py::handle(g_action_type_error);
}

void raise_action(const std::string &message, const char *reason, std::optional<std::size_t> index,
                  bool type_error) {
    PyObject *type = type_error ? g_action_type_error : g_action_rejected;
    py::object e = py::handle(type)(message);
    e.attr("reason") = reason;
    e.attr("index") = index ? py::object(py::int_(*index)) : py::object(py::none());
    PyErr_SetObject(type, e.ptr());
    throw py::error_already_set();
}

const char *reason_code(marllb::shm::RejectReason r) noexcept {
    switch (r) {
    case MARLLB_ACTION_OK: return "ok";
    case MARLLB_ACTION_SEQ_ZERO: return "seq_zero";
    case MARLLB_ACTION_SEQ_FROM_FUTURE: return "seq_from_future";
    case MARLLB_ACTION_NUM_SERVERS: return "num_servers";
    case MARLLB_ACTION_WEIGHT_NOT_FINITE: return "weight_not_finite";
    case MARLLB_ACTION_WEIGHT_NEGATIVE: return "weight_negative";
    case MARLLB_ACTION_WEIGHT_BEYOND_N: return "weight_beyond_n";
    case MARLLB_ACTION_WEIGHTS_ALL_ZERO: return "weights_all_zero";
    case MARLLB_ACTION_ALIAS_PROB_RANGE: return "alias_prob_range";
    case MARLLB_ACTION_ALIAS_INDEX_RANGE: return "alias_index_range";
    case MARLLB_ACTION_ALIAS_MISMATCH: return "alias_mismatch";
    case MARLLB_ACTION_RESERVED_NONZERO: return "reserved_nonzero";
    case MARLLB_ACTION_ALIAS_BEYOND_N: return "alias_beyond_n";
    case MARLLB_ACTION_SERVER_COUNT: return "server_count";
    case MARLLB_ACTION_SERVER_SET: return "server_set";
    case MARLLB_ACTION_META: return "meta";
    default: return "other"; // a reason added to the core after this module was written
    }
}

MsgIn parse_action(std::uint32_t declared, py::handle sequence_id, py::handle weights, py::handle num_servers) {
    MsgIn act{};
    act.sequence_id = parse_int(sequence_id, "sequence_id", "pass the sequence_id of the observation answered");
    const std::size_t n = parse_weights(weights, act.weights);
    if (n == 0) raise_action("weights is empty: give one weight per server (1..64)", "num_servers");
    // The LB's own count first: a length mistake must not pass as a smaller or larger set.
    if (declared != 0 && n != declared)
        raise_action("weights has " + std::to_string(n) + " values but the LB declared " + std::to_string(declared) +
                         " servers: give one weight per server of the LB (region.num_servers)",
                     "server_count", std::min<std::size_t>(n, declared));
    std::size_t servers = n;
    if (!num_servers.is_none()) {
        servers = std::size_t(parse_int(num_servers, "num_servers", "an int in 1..64 (the number of weights)"));
        if (servers == 0 || servers > MARLLB_MAX_AS)
            raise_action("num_servers is " + std::to_string(servers) + ": it must be in 1..64", "num_servers");
        if (n > servers)
            raise_action("weights has " + std::to_string(n) + " values but num_servers is " + std::to_string(servers) +
                             ": weights[" + std::to_string(servers) + "] and later are beyond num_servers (drop them, "
                             "or pass num_servers=" + std::to_string(n) + ")",
                         "weight_beyond_n", servers);
        if (n < servers)
            raise_action("weights has " + std::to_string(n) + " values for num_servers " + std::to_string(servers) +
                             ": weights[" + std::to_string(n) + "] is missing",
                         "num_servers", n);
    }
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) any |= act.weights[i] > 0;
    if (!any) raise_action("weights are all 0: the LB could choose no server", "weights_all_zero");
    act.num_servers = std::uint32_t(servers);
    return act;
}

double seconds_arg(py::handle v, const char *what, double min_s, bool min_exclusive, double max_s) {
    const std::string range = std::string(min_exclusive ? "(" : "[") + num(min_s) + ", " + num(max_s) + "]";
    if (is_bool(v) || !(PyFloat_Check(v.ptr()) || PyIndex_Check(v.ptr()) || PyNumber_Check(v.ptr())))
        throw py::type_error(std::string(what) + " is a " + type_name(v) + " (" + repr_of(v) + "): it must be seconds in " +
                             range);
    const double s = PyFloat_AsDouble(v.ptr());
    if (s == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    if (!(std::isfinite(s) && (min_exclusive ? s > min_s : s >= min_s) && s <= max_s))
        throw py::value_error(std::string(what) + " is " + num(s) + ": it must be seconds in " + range);
    return s;
}

std::uint64_t sequence_arg(py::handle v, const char *what) {
    if (is_bool(v) || !PyIndex_Check(v.ptr()))
        throw py::type_error(std::string(what) + " is a " + type_name(v) + " (" + repr_of(v) +
                             "): it must be a sequence id (an int >= 0)");
    auto idx = py::reinterpret_steal<py::object>(PyNumber_Index(v.ptr()));
    if (!idx) throw py::error_already_set();
    const unsigned long long u = PyLong_AsUnsignedLongLong(idx.ptr());
    if (PyErr_Occurred()) {
        PyErr_Clear();
        throw py::value_error(std::string(what) + " is " + repr_of(idx) + ": it must be a sequence id (0 .. 2**64-1)");
    }
    return u;
}

void check_no_nul(const std::string &s, const char *what) {
    if (const auto at = s.find('\0'); at != std::string::npos)
        throw py::value_error(std::string(what) + " has a NUL character at index " + std::to_string(at) +
                              ": the region would be another one (the name ends there); remove it");
}

std::optional<std::string> directory_arg(py::handle dir) {
    if (dir.is_none()) return std::nullopt;
    // os.fspath (by the type's __fspath__, as os.fspath looks it up): a str or bytes, or a
    // TypeError for anything else, including an __fspath__ that returns neither.
    auto fs = py::reinterpret_steal<py::object>(PyOS_FSPath(dir.ptr()));
    if (!fs) {
        if (!PyErr_ExceptionMatches(PyExc_TypeError)) throw py::error_already_set(); // __fspath__ raised: its error
        // A TypeError naming dir, with os.fspath's own (or the __fspath__'s) as its __cause__.
        const std::string message = std::string("dir is a ") + type_name(dir) +
                                    ": it must be a directory as a str, bytes or path-like object (pathlib.Path), or "
                                    "None for /dev/shm";
        py::raise_from(PyExc_TypeError, message.c_str());
        throw py::error_already_set();
    }
    // The path's bytes as the file system takes them (os.fsencode): bytes as they are, a str
    // encoded with the file system's encoding and error handler.
    if (PyUnicode_Check(fs.ptr())) {
        auto encoded = py::reinterpret_steal<py::object>(PyUnicode_EncodeFSDefault(fs.ptr()));
        if (!encoded) {
            PyErr_Clear();
            throw py::value_error("dir is " + repr_of(fs) +
                                  ": it cannot be encoded as a file name (a lone surrogate?); pass the path as bytes");
        }
        fs = std::move(encoded);
    }
    const std::string path = fs.cast<py::bytes>();
    if (path.empty())
        throw py::value_error("dir is '': pass the directory the region lives in, or leave it out (None) for /dev/shm");
    check_no_nul(path, "dir");
    return path;
}

ObservationArgs parse_observation(py::handle n_flow_on, py::handle features) {
    ObservationArgs out;
    const auto count = [&](long long v, std::size_t i, const std::string &shown) {
        if (v < 0 || v > 0xffffffffLL)
            throw py::value_error("n_flow_on[" + std::to_string(i) + "] is " + shown +
                                  ": a server's count of flows is an int in 0..4294967295");
        out.n_flow_on.push_back(std::uint32_t(v));
    };
    if (py::isinstance<py::array>(n_flow_on)) {
        auto arr = py::reinterpret_borrow<py::array>(n_flow_on);
        const char kind = arr.dtype().kind();
        if (kind != 'i' && kind != 'u')
            throw py::type_error("n_flow_on is a numpy array of dtype " + repr_of(arr.dtype()) +
                                 ": counts of flows are ints (e.g. np.uint32)");
        if (arr.ndim() != 1)
            throw py::value_error("n_flow_on must be 1-D (one count per server), got shape " +
                                  repr_of(n_flow_on.attr("shape")));
        if (std::size_t(arr.shape(0)) > MARLLB_MAX_AS)
            throw py::value_error("n_flow_on must have 1..64 entries, got " + std::to_string(arr.shape(0)));
        // Read as 64-bit integers of the array's signedness; a value past 2^63 reads as -1.
        const auto each = [&](auto as) {
            using T = decltype(as);
            auto d = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(arr);
            if (!d) throw py::error_already_set();
            for (py::ssize_t i = 0; i < d.size(); ++i) {
                const T v = d.data()[i];
                count(v > T(0x7fffffffffffffffLL) ? -1 : (long long)v, std::size_t(i), std::to_string(v));
            }
        };
        if (kind == 'u') each(std::uint64_t{});
        else each(std::int64_t{});
    } else {
        if (PyUnicode_Check(n_flow_on.ptr()) || PyBytes_Check(n_flow_on.ptr()) || !PySequence_Check(n_flow_on.ptr()))
            throw py::type_error("n_flow_on must be a list, tuple or 1-D numpy array of ints, got " + type_name(n_flow_on));
        // A snapshot, as for weights: an item's __index__ may change the list.
        auto seq = py::reinterpret_steal<py::object>(PySequence_Tuple(n_flow_on.ptr()));
        if (!seq) throw py::error_already_set();
        const std::size_t n = std::size_t(PyTuple_GET_SIZE(seq.ptr()));
        if (n > MARLLB_MAX_AS) throw py::value_error("n_flow_on must have 1..64 entries, got " + std::to_string(n));
        for (std::size_t i = 0; i < n; ++i) {
            py::handle item(PyTuple_GET_ITEM(seq.ptr(), py::ssize_t(i)));
            if (is_bool(item) || !PyIndex_Check(item.ptr()))
                throw py::type_error("n_flow_on[" + std::to_string(i) + "] is a " + type_name(item) + " (" +
                                     repr_of(item) + "): counts of flows are ints");
            auto idx = py::reinterpret_steal<py::object>(PyNumber_Index(item.ptr()));
            if (!idx) throw py::error_already_set();
            int overflow = 0;
            const long long v = PyLong_AsLongLongAndOverflow(idx.ptr(), &overflow);
            count(overflow ? -1 : v, i, repr_of(idx));
        }
    }
    if (out.n_flow_on.empty()) throw py::value_error("n_flow_on must have 1..64 entries, got 0");
    if (!features.is_none()) {
        using F = py::array_t<float, py::array::c_style | py::array::forcecast>;
        const std::string want = "features must have shape (len(n_flow_on), 10) = (" +
                                 std::to_string(out.n_flow_on.size()) + ", 10), numbers";
        if (PyUnicode_Check(features.ptr()) || PyBytes_Check(features.ptr()) || is_bool(features))
            throw py::type_error(want + ", got " + type_name(features));
        auto f = F::ensure(features);
        if (!f) {
            PyErr_Clear();
            throw py::type_error(want + ": numpy cannot read a " + type_name(features) + " as float32 numbers");
        }
        if (f.ndim() != 2 || std::size_t(f.shape(0)) != out.n_flow_on.size() || f.shape(1) != MARLLB_FEATURES_PER_AS)
            throw py::value_error(want + ", got shape " + repr_of(f.attr("shape")));
        out.features = std::move(f);
    }
    return out;
}

} // namespace marllb_py
