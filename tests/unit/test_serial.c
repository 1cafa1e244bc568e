/* The console UART: what Linux's 8250 driver probes, and the output. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/serial.h"

static void count_irq(void *ctx)
{
	(*(int *)ctx)++;
}

TEST(serial_passes_the_8250_autoconfig_probes)
{
	struct serial s;
	int irqs = 0;

	serial_init(&s, -1, count_irq, &irqs);
	serial_write(&s, 7, 0xa5); /* scratch register */
	CHECK_INT(serial_read(&s, 7), ==, 0xa5);
	serial_write(&s, 1, 0x0f); /* IER reads back */
	CHECK_INT(serial_read(&s, 1), ==, 0x0f);
	serial_write(&s, 1, 0);
	serial_write(&s, 4, 0x1a); /* loopback: RTS|OUT2 read back as CTS|DCD */
	CHECK_INT(serial_read(&s, 6) & 0xf0, ==, 0x90);
	serial_write(&s, 4, 0x08);
	serial_write(&s, 2, 0x01); /* FIFO on: a 16550A */
	CHECK_INT(serial_read(&s, 2) & 0xc0, ==, 0xc0);
	serial_write(&s, 3, 0x80); /* DLAB: divisor latch */
	serial_write(&s, 0, 0x01);
	CHECK_INT(serial_read(&s, 0), ==, 0x01);
	serial_write(&s, 3, 0x03);
	CHECK_INT(serial_read(&s, 5) & 0x60, ==, 0x60); /* transmitter empty */
	serial_release(&s);
}

TEST(serial_raises_thre_interrupt_and_iir_acknowledges_it)
{
	struct serial s;
	int irqs = 0;

	serial_init(&s, -1, count_irq, &irqs);
	serial_write(&s, 0, 'x'); /* THRI not enabled: no interrupt */
	CHECK_INT(irqs, ==, 0);
	serial_write(&s, 1, 0x02);
	CHECK_INT(irqs, ==, 1);
	CHECK_INT(serial_read(&s, 2) & 0x0f, ==, 0x02);
	CHECK_INT(serial_read(&s, 2) & 0x0f, ==, 0x01); /* read once: acknowledged */
	serial_write(&s, 0, 'y');
	CHECK_INT(irqs, ==, 2);
	serial_release(&s);
}

TEST(serial_output_goes_to_the_log_and_the_tail)
{
	struct serial s;
	int fds[2];
	char buf[64], tail[8];
	const char *msg = "hello\nworld";
	ssize_t n;

	CHECK_INT(pipe(fds), ==, 0);
	serial_init(&s, fds[1], NULL, NULL);
	for (const char *p = msg; *p; p++)
		serial_write(&s, 0, (uint8_t)*p);
	serial_flush(&s);
	n = read(fds[0], buf, sizeof(buf) - 1);
	CHECK_INT(n, ==, (long long)strlen(msg));
	buf[n] = '\0';
	CHECK_STR(buf, msg);
	serial_tail(&s, tail, sizeof(tail));
	CHECK_STR(tail, "o\nworld");   /* the last 7 bytes */
	for (int i = 0; i < 5000; i++) /* wraps the tail ring */
		serial_write(&s, 0, (uint8_t)('a' + i % 26));
	serial_tail(&s, buf, sizeof(buf));
	CHECK_INT(strlen(buf), ==, 63);
	serial_release(&s);
	close(fds[0]);
	close(fds[1]);
}
