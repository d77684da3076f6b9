/* A program for lrp-run's program checks, built three ways by CMake:
 * statically linked, dynamically linked, and dynamically linked with the
 * section Go programs carry. */
#include <stdio.h>

int main(void) {
  puts("hello from the program");
  return 0;
}
