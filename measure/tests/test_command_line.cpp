// The command-line contract of every testbed binary: each user error exits 2 with one line
// that names the program, what was wrong and where help is; --help and --version exit 0.
#include "marllb/measure/command_line.hpp"
#include "marllb/measure/host.hpp"

#include <catch2/catch.hpp>

#include <iostream>
#include <sstream>

using marllb::measure::parse_command_line;

namespace {
struct Outcome {
    int code;
    std::string out, err;
};

// Parses args with a small app of the kinds of options the binaries have.
Outcome parse(std::vector<std::string> args) {
    CLI::App app{"test"};
    marllb::measure::add_version_flag(app, "marllb-test");
    double load = 0.85;
    unsigned lbs = 1;
    std::string mode = "a";
    app.add_option("--load", load)->check(CLI::Range(0.01, 2.0));
    app.add_option("--lbs", lbs);
    app.add_option("--mode", mode)->check(CLI::IsMember({"a", "b"}));
    std::vector<std::string> rev(args.rbegin(), args.rend());
    std::ostringstream out, err;
    auto *o = std::cout.rdbuf(out.rdbuf());
    auto *e = std::cerr.rdbuf(err.rdbuf());
    const int code = parse_command_line(app, rev);
    std::cout.rdbuf(o);
    std::cerr.rdbuf(e);
    return {code, out.str(), err.str()};
}

bool one_line(const std::string &s) { return !s.empty() && s.find('\n') == s.size() - 1; }
} // namespace

TEST_CASE("valid options go on (-1)", "[command-line]") {
    CHECK(parse({"--load", "0.5", "--lbs", "2"}).code == -1);
}

TEST_CASE("a range, type, unknown or repeated option is a user error: exit 2, one line", "[command-line][bad-input]") {
    for (const auto &args : std::vector<std::vector<std::string>>{
             {"--load", "5"}, {"--lbs", "two"}, {"--mode", "c"}, {"--bogus"}, {"--lbs", "1", "--lbs", "2"}, {"--load"}}) {
        INFO(args[0] << " " << (args.size() > 1 ? args[1] : ""));
        const Outcome r = parse(args);
        CHECK(r.code == 2);
        CHECK(one_line(r.err));
        CHECK(r.err.rfind("marllb-test: ", 0) == 0);
        CHECK(r.err.find("(run marllb-test --help for the options)") != std::string::npos);
        CHECK(r.out.empty());
    }
    CHECK(parse({"--load", "5"}).err.find("--load") != std::string::npos);
}

TEST_CASE("the version flag prints the program, version and embedded commit and exits 0", "[command-line]") {
    const Outcome r = parse({"--version"});
    CHECK(r.code == 0);
    CHECK(r.out == marllb::measure::version_line("marllb-test") + "\n");
    CHECK(r.out.find(std::string("(git ") + marllb::measure::build_git_commit() + ")") != std::string::npos);
    CHECK(r.err.empty());
}

TEST_CASE("the help flag prints the options and exits 0", "[command-line]") {
    const Outcome r = parse({"--help"});
    CHECK(r.code == 0);
    CHECK(r.out.find("--load") != std::string::npos);
    CHECK(r.err.empty());
}
