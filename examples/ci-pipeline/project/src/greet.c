#include "greet.h"
#include <ctype.h>
#include <stdio.h>

int greet(char *buf, size_t size, const char *name) {
    if (name == NULL || name[0] == '\0') {
        name = "world";
    }
    return snprintf(buf, size, "hello, %s!", name);
}

char *shout(char *s) {
    for (char *p = s; *p != '\0'; p++) {
        *p = (char)toupper((unsigned char)*p);
    }
    return s;
}
