#include "observation_objects.hpp"

#include <cstring>

namespace py = pybind11;
using marllb::shm::Observation;

namespace marllb_py {

namespace {

// Keys are interned once: a dict insert with an interned key compares one pointer and reuses
// the cached hash, where a fresh str would be allocated and hashed every time.
enum Key {
    k_sequence_id, k_timestamp, k_active_servers, k_server_stats, k_num_active_servers,
    k_generation, k_skipped, k_lost, k_publish_mono_ns, k_active, k_n_flow_on, k_features,
    k_key_count
};
constexpr const char *kKeyNames[k_key_count] = {
    "sequence_id", "timestamp", "active_servers", "server_stats", "num_active_servers",
    "generation",  "skipped",   "lost",           "publish_mono_ns", "active", "n_flow_on", "features"};

constexpr const char *kFeatureNames[MARLLB_FEATURES_PER_AS] = {
    "fct_mean",      "fct_p90",      "fct_std",      "fct_mean_decay",      "fct_p90_decay",
    "duration_mean", "duration_p90", "duration_std", "duration_mean_decay", "duration_p90_decay"};

// Module-lifetime references (never released: the module is never unloaded by CPython).
PyObject *g_keys[k_key_count];
PyObject *g_feature_keys[MARLLB_FEATURES_PER_AS];
// {'n_flow_on': None, 'fct_mean': None, ...}: each server's dict is a PyDict_Copy of it, which
// clones the finished hash table in one allocation instead of growing a new one key by key
// (twice resized on the way to 11 keys); the values are then replaced in place.
PyObject *g_server_template;
PyObject *g_reservoir_dtype;

[[noreturn]] void throw_python() { throw py::error_already_set(); }

// A dict sized for n keys up front (no resizes while it fills), where CPython exports it.
PyObject *dict_for(Py_ssize_t n) {
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
    return _PyDict_NewPresized(n);
#else
    (void)n;
    return PyDict_New();
#endif
}

PyObject *checked(PyObject *o) {
    if (!o) throw_python();
    return o;
}

// Inserts and releases `v` (a new reference), raising the pending Python error on failure.
void set_new(PyObject *dict, PyObject *key, PyObject *v) {
    if (!v) throw_python();
    const int rc = PyDict_SetItem(dict, key, v);
    Py_DECREF(v);
    if (rc != 0) throw_python();
}

unsigned highest_active_plus_one(std::uint64_t bitmap) {
    return bitmap ? 64u - unsigned(__builtin_clzll(bitmap)) : 0u;
}

void put_scalars(PyObject *d, const Observation &o, ReadKind kind) {
    set_new(d, g_keys[k_generation], PyLong_FromUnsignedLong(o.generation));
    if (kind == ReadKind::newest) set_new(d, g_keys[k_skipped], PyLong_FromUnsignedLongLong(o.skipped));
    else set_new(d, g_keys[k_lost], PyLong_FromUnsignedLongLong(o.lost));
    set_new(d, g_keys[k_publish_mono_ns], PyLong_FromUnsignedLongLong(o.publish_mono_ns));
}

} // namespace

void init_observation_objects(py::module_ &m) {
    for (int k = 0; k < k_key_count; ++k) g_keys[k] = checked(PyUnicode_InternFromString(kKeyNames[k]));
    for (unsigned f = 0; f < MARLLB_FEATURES_PER_AS; ++f)
        g_feature_keys[f] = checked(PyUnicode_InternFromString(kFeatureNames[f]));
    g_server_template = checked(PyDict_New());
    if (PyDict_SetItem(g_server_template, g_keys[k_n_flow_on], Py_None) != 0) throw_python();
    for (auto *k : g_feature_keys)
        if (PyDict_SetItem(g_server_template, k, Py_None) != 0) throw_python();

    py::list names;
    for (auto *n : kFeatureNames) names.append(n);
    m.attr("FEATURE_NAMES") = py::tuple(names);

    // One record of marllb_reservoir_data_t: {fct, flow_duration}[64] x {values f32[128],
    // timestamps u64[128]}, packed exactly as in C (checked below, not assumed).
    auto np = py::module_::import("numpy");
    const auto cap = py::int_(MARLLB_RESERVOIR_CAPACITY);
    py::list raw_fields, data_fields;
    raw_fields.append(py::make_tuple("values", "<f4", py::make_tuple(cap)));
    raw_fields.append(py::make_tuple("timestamps", "<u8", py::make_tuple(cap)));
    py::object raw = np.attr("dtype")(raw_fields);
    const auto servers = py::make_tuple(py::int_(MARLLB_MAX_AS));
    data_fields.append(py::make_tuple("fct", raw, servers));
    data_fields.append(py::make_tuple("flow_duration", raw, servers));
    py::object data = np.attr("dtype")(data_fields);
    if (data.attr("itemsize").cast<std::size_t>() != sizeof(marllb_reservoir_data_t) ||
        raw.attr("itemsize").cast<std::size_t>() != sizeof(marllb_reservoir_raw_t))
        throw py::import_error("marllb.shm: numpy lays out the reservoir dtype differently from marllb_reservoir_data_t");
    g_reservoir_dtype = data.release().ptr();
    m.attr("RESERVOIR_DTYPE") = py::reinterpret_borrow<py::object>(g_reservoir_dtype);
}

namespace {

// A server's dict: the template's copy, then its values.
PyObject *new_server_dict(const marllb_as_stats_t &st) {
    PyObject *d = checked(PyDict_Copy(g_server_template));
    try {
        set_new(d, g_keys[k_n_flow_on], PyLong_FromUnsignedLong(st.n_flow_on));
        for (unsigned f = 0; f < MARLLB_FEATURES_PER_AS; ++f)
            set_new(d, g_feature_keys[f], PyFloat_FromDouble(st.reservoir_features[f]));
    } catch (...) {
        Py_DECREF(d);
        throw;
    }
    return d;
}

// Refills a server dict that nothing but its (unreachable) parent holds, when it still has the
// template's keys in the template's order; false when it does not (the caller replaces it).
// A float only this dict holds is changed in place; any other value is replaced.
bool refill_server_dict(PyObject *d, const marllb_as_stats_t &st) {
    if (!PyDict_CheckExact(d) || Py_REFCNT(d) != 1 || PyDict_GET_SIZE(d) != 1 + MARLLB_FEATURES_PER_AS)
        return false;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    if (!PyDict_Next(d, &pos, &k, &v) || k != g_keys[k_n_flow_on]) return false;
    for (unsigned f = 0; PyDict_Next(d, &pos, &k, &v); ++f) {
        if (k != g_feature_keys[f]) return false;
        const double x = st.reservoir_features[f];
        // Replacing the value of a present key while iterating is allowed (the keys stay).
        if (PyFloat_CheckExact(v) && Py_REFCNT(v) == 1) reinterpret_cast<PyFloatObject *>(v)->ob_fval = x;
        else set_new(d, k, PyFloat_FromDouble(x));
    }
    set_new(d, g_keys[k_n_flow_on], PyLong_FromUnsignedLong(st.n_flow_on));
    return true;
}

// Refills a kept server_stats dict (count 1: only the pool holds it) when its keys are the
// active servers of `msg` in order; false when they are not (the caller builds a new one).
bool refill_stats(PyObject *stats, const marllb_msg_out_t &msg) {
    if (PyDict_GET_SIZE(stats) != Py_ssize_t(__builtin_popcountll(msg.active_as_bitmap))) return false;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    for (std::uint64_t bits = msg.active_as_bitmap; bits; bits &= bits - 1) {
        const unsigned s = unsigned(__builtin_ctzll(bits));
        int overflow = 0; // a key too large for a long compares unequal, with no Python error set
        if (!PyDict_Next(stats, &pos, &k, &v) || !PyLong_CheckExact(k) ||
            PyLong_AsLongAndOverflow(k, &overflow) != long(s) || overflow)
            return false;
        if (!refill_server_dict(v, msg.as_stats[s])) set_new(stats, k, new_server_dict(msg.as_stats[s]));
    }
    return true;
}

} // namespace

py::object SeedDictPool::stats_for(const marllb_msg_out_t &msg) {
    for (auto &kept : kept_) {
        if (!kept || Py_REFCNT(kept.ptr()) != 1) continue;
        // Out of the pool while it is refilled: a refill can run Python code (a finalizer of
        // a value it replaces, a garbage collection started by an allocation), and that code
        // may read this region again (it must not be handed this half-filled dict) or close it
        // (it must not free it under the refill).
        py::object d = std::move(kept);
        const bool ok = refill_stats(d.ptr(), msg);
        if (!kept) kept = d;
        if (ok) return d;
    }
    auto stats = py::reinterpret_steal<py::object>(checked(dict_for(__builtin_popcountll(msg.active_as_bitmap))));
    for (std::uint64_t bits = msg.active_as_bitmap; bits; bits &= bits - 1) {
        const unsigned s = unsigned(__builtin_ctzll(bits));
        auto id = py::reinterpret_steal<py::object>(checked(PyLong_FromLong(long(s))));
        set_new(stats.ptr(), id.ptr(), new_server_dict(msg.as_stats[s]));
    }
    // Keep it in a free entry (one whose dict no caller holds) or else in the older one.
    unsigned slot = next_;
    for (unsigned i = 0; i < 2; ++i)
        if (!kept_[i] || Py_REFCNT(kept_[i].ptr()) == 1) slot = i;
    kept_[slot] = stats;
    next_ = slot ^ 1u;
    return stats;
}

py::object seed_dict(const Observation &o, ReadKind kind, SeedDictPool &pool) {
    const auto &msg = o.msg;
    auto d = py::reinterpret_steal<py::object>(checked(dict_for(8)));
    auto active = py::reinterpret_steal<py::object>(
        checked(PyList_New(Py_ssize_t(__builtin_popcountll(msg.active_as_bitmap)))));
    Py_ssize_t pos = 0;
    for (std::uint64_t bits = msg.active_as_bitmap; bits; bits &= bits - 1)
        PyList_SET_ITEM(active.ptr(), pos++, checked(PyLong_FromLong(long(__builtin_ctzll(bits))))); // steals
    set_new(d.ptr(), g_keys[k_sequence_id], PyLong_FromUnsignedLongLong(msg.sequence_id));
    set_new(d.ptr(), g_keys[k_timestamp], PyFloat_FromDouble(double(msg.timestamp_us) / 1e6));
    set_new(d.ptr(), g_keys[k_active_servers], active.release().ptr());
    set_new(d.ptr(), g_keys[k_server_stats], pool.stats_for(msg).release().ptr());
    set_new(d.ptr(), g_keys[k_num_active_servers], PyLong_FromUnsignedLong(msg.num_active_as));
    put_scalars(d.ptr(), o, kind);
    return d;
}

py::object arrays_dict(const Observation &o, ReadKind kind) {
    const auto &msg = o.msg;
    const unsigned n = highest_active_plus_one(msg.active_as_bitmap);
    py::array_t<std::uint32_t> n_on{py::ssize_t(n)};
    py::array_t<float> feat({py::ssize_t(n), py::ssize_t(MARLLB_FEATURES_PER_AS)});
    py::array_t<bool> active{py::ssize_t(n)};
    auto *pn = static_cast<std::uint32_t *>(n_on.mutable_data());
    auto *pf = static_cast<float *>(feat.mutable_data());
    auto *pa = static_cast<bool *>(active.mutable_data());
    for (unsigned s = 0; s < n; ++s) {
        pn[s] = msg.as_stats[s].n_flow_on;
        pa[s] = (msg.active_as_bitmap >> s & 1) != 0;
        std::memcpy(pf + std::size_t(s) * MARLLB_FEATURES_PER_AS, msg.as_stats[s].reservoir_features,
                    sizeof msg.as_stats[s].reservoir_features);
    }
    auto d = py::reinterpret_steal<py::object>(checked(dict_for(8)));
    set_new(d.ptr(), g_keys[k_sequence_id], PyLong_FromUnsignedLongLong(msg.sequence_id));
    set_new(d.ptr(), g_keys[k_timestamp], PyFloat_FromDouble(double(msg.timestamp_us) / 1e6));
    set_new(d.ptr(), g_keys[k_active], active.release().ptr());
    set_new(d.ptr(), g_keys[k_n_flow_on], n_on.release().ptr());
    set_new(d.ptr(), g_keys[k_features], feat.release().ptr());
    put_scalars(d.ptr(), o, kind);
    return d;
}

py::dtype reservoir_dtype() { return py::reinterpret_borrow<py::dtype>(g_reservoir_dtype); }

py::object reservoir_views(py::array data, std::uint64_t seq) {
    py::object fct = data[py::str("fct")];
    py::object dur = data[py::str("flow_duration")];
    py::dict d;
    d["sequence_id"] = seq;
    d["fct_values"] = fct[py::str("values")];
    d["fct_timestamps"] = fct[py::str("timestamps")];
    d["duration_values"] = dur[py::str("values")];
    d["duration_timestamps"] = dur[py::str("timestamps")];
    d["data"] = data;
    return d;
}

} // namespace marllb_py
