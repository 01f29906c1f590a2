// Prints the generated policy tables for docs/access-control.md.
#include <iostream>

#include "policy/policy_markdown.h"

int main() {
  std::cout << custvault::policy::kDocTableBegin << "\n"
            << custvault::policy::PolicyMarkdownTables() << "\n"
            << custvault::policy::kDocTableEnd << "\n";
  return 0;
}
