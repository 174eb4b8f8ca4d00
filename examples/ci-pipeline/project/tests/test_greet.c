#include "greet.h"
#include <stdio.h>
#include <string.h>

static int run = 0, failed = 0;

static void check(const char *name, int ok) {
    run++;
    if (!ok) failed++;
    printf("%s %s\n", ok ? "ok  " : "FAIL", name);
}

int main(void) {
    char buf[64];
    greet(buf, sizeof buf, "team");
    check("greets by name", strcmp(buf, "hello, team!") == 0);
    greet(buf, sizeof buf, NULL);
    check("greets the world by default", strcmp(buf, "hello, world!") == 0);
    greet(buf, sizeof buf, "");
    check("an empty name means the world", strcmp(buf, "hello, world!") == 0);
    check("reports the full length", greet(buf, 4, "team") == 12);
    check("truncates safely", strcmp(buf, "hel") == 0);
    char loud[] = "hello, team!";
    check("shouts", strcmp(shout(loud), "HELLO, TEAM!") == 0);
    printf("%d tests, %d failed\n", run, failed);
    return failed == 0 ? 0 : 1;
}
