// The only file of the module that reads CPython's internal dict layout (pycore_dict.h, shipped
// with the headers of the Python it is built for). Kept apart: Py_BUILD_CORE_MODULE must not
// reach pybind11 or the rest of the module. Python versions whose layout has not been checked
// against this code take the public path (fill_fresh_dict returns false).
#include <patchlevel.h> // PY_VERSION_HEX alone: Py_BUILD_CORE_MODULE must come before Python.h

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
#define MARLLB_DIRECT_DICT_FILL 1
#define Py_BUILD_CORE_MODULE 1
#endif
#include <Python.h>
#ifdef MARLLB_DIRECT_DICT_FILL
#include <internal/pycore_dict.h>
#endif

#include "dict_fill.hpp"

namespace marllb_py {

bool direct_dict_fill_compiled() noexcept {
#ifdef MARLLB_DIRECT_DICT_FILL
    return true;
#else
    return false;
#endif
}

bool fill_fresh_dict(PyObject *d, PyObject *const *keys, PyObject **values, Py_ssize_t n) noexcept {
#ifdef MARLLB_DIRECT_DICT_FILL
    if (!PyDict_CheckExact(d)) return false;
    auto *mp = reinterpret_cast<PyDictObject *>(d);
    PyDictKeysObject *dk = mp->ma_keys;
    // Combined storage (no split values), string keys only, n live entries and no deleted ones:
    // entry i is then the i-th key inserted, the layout PyDict_Copy clones from the template.
    if (mp->ma_values != nullptr || dk->dk_kind != DICT_KEYS_UNICODE || dk->dk_nentries != n || mp->ma_used != n)
        return false;
    PyDictUnicodeEntry *e = DK_UNICODE_ENTRIES(dk);
    for (Py_ssize_t i = 0; i < n; ++i)
        if (e[i].me_key != keys[i] || e[i].me_value == nullptr) return false;
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject *old = e[i].me_value;
        e[i].me_value = values[i];
        Py_DECREF(old); // the template's None: never the last reference, runs no code
    }
    return true;
#else
    (void)d, (void)keys, (void)values, (void)n;
    return false;
#endif
}

} // namespace marllb_py
