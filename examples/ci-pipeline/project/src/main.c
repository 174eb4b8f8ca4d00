#include "greet.h"
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    char buf[256];
    int loud = argc > 1 && strcmp(argv[1], "--shout") == 0;
    const char *name = argc > 1 + loud ? argv[1 + loud] : NULL;
    greet(buf, sizeof buf, name);
    puts(loud ? shout(buf) : buf);
    return 0;
}
