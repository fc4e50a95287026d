#include <cstdio>

int main() {
  std::puts("ktls");
  return 0;
}
