#include "agent/cli/cli.h"

int main(int argc, char** argv) {
  return ipctrail::run_cli(argc, argv);
}
