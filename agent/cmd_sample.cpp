// `ipctrail sample`: collect once and print.
#include <iostream>

#include "agent/cli.h"
#include "agent/collector.h"
#include "agent/report.h"
#include "export/prometheus.h"

namespace ipctrail {

void add_sample_command(CLI::App& app, CommandAction& run) {
  struct Options {
    std::string format = "table";
    std::string procfs_root = "/proc";
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand("sample", "Collect System V IPC state once and print it");
  command
      ->add_option("--format", options->format,
                   "table (for people), json (a stable contract) or prometheus (text exposition)")
      ->check(CLI::IsMember({"table", "json", "prometheus"}));
  command
      ->add_option("--procfs-root", options->procfs_root,
                   "Read a recorded procfs tree instead of the live /proc (for tests)")
      ->group("");
  command->callback([&run, options] {
    run = [options] {
      CollectorOptions collector_options;
      collector_options.procfs_root = options->procfs_root;
      collector_options.use_syscalls = options->procfs_root == "/proc";
      Collector collector(collector_options);
      Sample sample = collector.collect();
      if (options->format == "json") {
        std::cout << sample_to_json(sample).dump() << '\n';
      } else if (options->format == "prometheus") {
        std::cout << render_exposition({.sample = sample});
      } else {
        std::cout << sample_to_table(sample);
      }
      return kExitOk;
    };
  });
}

}  // namespace ipctrail
