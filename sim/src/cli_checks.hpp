// Checks for the testbed's command lines (CLI11). CLI11 2.1's PositiveNumber and
// NonNegativeNumber are ranges up to DBL_MAX and say so in a 300-digit error; these say what
// was wrong in words.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace marllb::sim::cli {

namespace detail {
inline CLI::Validator sign_check(bool allow_zero) {
    return CLI::Validator(
        [allow_zero](std::string &s) -> std::string {
            double v = 0;
            if (!CLI::detail::lexical_cast(s, v)) return "'" + s + "' is not a number";
            if (allow_zero ? v < 0 : v <= 0)
                return "'" + s + "' must be " + (allow_zero ? "zero or more" : "more than zero");
            return {};
        },
        allow_zero ? "NONNEGATIVE" : "POSITIVE");
}
} // namespace detail

inline const CLI::Validator positive = detail::sign_check(false);
inline const CLI::Validator non_negative = detail::sign_check(true);

} // namespace marllb::sim::cli
