/* pause: the only program in the `noshell` test image. Sleeps until SIGTERM or
 * SIGINT (then exits 0), so the container stays up with no shell in it.
 * Built by docker/rootfs.sh: gcc -static -Os -s -o pause pause.c */
#include <signal.h>
#include <unistd.h>

static void on_signal(int sig) {
    (void)sig;
    _exit(0);
}

int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, 0);
    sigaction(SIGINT, &sa, 0);
    for (;;)
        pause();
}
