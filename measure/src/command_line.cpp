#include "marllb/measure/command_line.hpp"

#include "marllb/measure/host.hpp"

#include <cstdio>
#include <iostream>

namespace marllb::measure {

std::string version_line(std::string_view program) {
    return std::string(program) + " " MARLLB_VERSION " (git " + build_git_commit() + ")";
}

void add_version_flag(CLI::App &app, std::string program) {
    app.name(program);
    app.set_version_flag("--version", version_line(program), "print the version and the git commit built from, then exit");
}

int exit_code(const CLI::App &app, const CLI::ParseError &e, std::string_view prefix) {
    if (e.get_exit_code() == 0) { // --help, --help-all, --version: print and stop
        if (e.get_name() == "CallForVersion") std::cout << e.what() << '\n';
        else std::cout << app.help("", e.get_name() == "CallForAllHelp" ? CLI::AppFormatMode::All : CLI::AppFormatMode::Normal);
        return 0;
    }
    std::string what = e.what();
    for (char &c : what)
        if (c == '\n') c = ' ';
    const std::string name = app.get_name().empty() ? "marllb" : app.get_name();
    std::cerr << name << ": " << prefix << what << " (run " << name << " --help for the options)" << std::endl;
    return 2;
}

int parse_command_line(CLI::App &app, int argc, char **argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return exit_code(app, e);
    }
    return -1;
}

int parse_command_line(CLI::App &app, std::vector<std::string> &args_reversed) {
    try {
        app.parse(args_reversed);
    } catch (const CLI::ParseError &e) {
        return exit_code(app, e);
    }
    return -1;
}

} // namespace marllb::measure
