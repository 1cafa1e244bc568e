#include "vmm/serial.h"

#include <string.h>
#include <unistd.h>

/* Register offsets and bits (16550A). */
#define UART_RX	 0 /* DLAB=0 read */
#define UART_TX	 0 /* DLAB=0 write */
#define UART_DLL 0 /* DLAB=1 */
#define UART_IER 1 /* DLAB=0 */
#define UART_DLM 1 /* DLAB=1 */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_LCR_DLAB	0x80
#define UART_IER_THRI	0x02
#define UART_IIR_NO_INT 0x01
#define UART_IIR_THRI	0x02
#define UART_IIR_FIFO	0xc0
#define UART_FCR_ENABLE 0x01
#define UART_LSR_TEMT	0x40
#define UART_LSR_THRE	0x20
#define UART_MCR_LOOP	0x10
#define UART_MSR_DCD	0x80
#define UART_MSR_DSR	0x20
#define UART_MSR_CTS	0x10

void serial_init(struct serial *s, int log_fd, void (*raise_irq)(void *), void *ctx)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->log_fd = log_fd;
	s->raise_irq = raise_irq;
	s->irq_ctx = ctx;
	s->mcr = 0x08; /* OUT2: interrupts routed, as firmware leaves it */
}

void serial_release(struct serial *s)
{
	serial_flush(s);
	pthread_mutex_destroy(&s->lock);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n <= 0)
			return; /* a full disk must not stop the guest */
		buf += n;
		len -= n;
	}
}

static void flush_line(struct serial *s)
{
	if (s->log_fd >= 0 && s->line_len)
		write_all(s->log_fd, s->line, s->line_len);
	s->line_len = 0;
}

static void output(struct serial *s, uint8_t c)
{
	s->tail[s->tail_pos++] = (char)c;
	if (s->tail_pos == SERIAL_TAIL_SIZE) {
		s->tail_pos = 0;
		s->tail_full = true;
	}
	s->line[s->line_len++] = (char)c;
	if (c == '\n' || s->line_len == sizeof(s->line))
		flush_line(s);
}

/* The transmitter is always empty at once: a THRE interrupt is due whenever
 * the guest enabled it. */
static void update_irq(struct serial *s)
{
	if ((s->ier & UART_IER_THRI) && s->thr_interrupt && s->raise_irq)
		s->raise_irq(s->irq_ctx);
}

static uint8_t modem_status(const struct serial *s)
{
	/* In loopback the modem outputs read back as inputs (autoconfig checks). */
	if (s->mcr & UART_MCR_LOOP) {
		uint8_t m = 0;
		if (s->mcr & 0x02)
			m |= UART_MSR_CTS;
		if (s->mcr & 0x01)
			m |= UART_MSR_DSR;
		if (s->mcr & 0x04)
			m |= 0x40; /* RI */
		if (s->mcr & 0x08)
			m |= UART_MSR_DCD;
		return m;
	}
	return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
}

static uint8_t read_iir(struct serial *s)
{
	uint8_t fifo = s->fifo ? UART_IIR_FIFO : 0;

	if ((s->ier & UART_IER_THRI) && s->thr_interrupt) {
		s->thr_interrupt = false; /* reading IIR acknowledges THRE */
		return fifo | UART_IIR_THRI;
	}
	return fifo | UART_IIR_NO_INT;
}

uint8_t serial_read(struct serial *s, unsigned off)
{
	uint8_t v = 0;
	bool dlab;

	pthread_mutex_lock(&s->lock);
	dlab = s->lcr & UART_LCR_DLAB;
	switch (off) {
	case UART_RX:
		v = dlab ? s->dll : 0;
		break;
	case UART_IER:
		v = dlab ? s->dlm : s->ier;
		break;
	case UART_IIR:
		v = read_iir(s);
		break;
	case UART_LCR:
		v = s->lcr;
		break;
	case UART_MCR:
		v = s->mcr;
		break;
	case UART_LSR:
		v = UART_LSR_TEMT | UART_LSR_THRE;
		break;
	case UART_MSR:
		v = modem_status(s);
		break;
	case UART_SCR:
		v = s->scr;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return v;
}

void serial_write(struct serial *s, unsigned off, uint8_t val)
{
	bool dlab;

	pthread_mutex_lock(&s->lock);
	dlab = s->lcr & UART_LCR_DLAB;
	switch (off) {
	case UART_TX:
		if (dlab) {
			s->dll = val;
			break;
		}
		if (!(s->mcr & UART_MCR_LOOP))
			output(s, val);
		s->thr_interrupt = true;
		update_irq(s);
		break;
	case UART_IER:
		if (dlab) {
			s->dlm = val;
			break;
		}
		s->ier = val & 0x0f;
		s->thr_interrupt = true;
		update_irq(s);
		break;
	case UART_FCR:
		s->fifo = val & UART_FCR_ENABLE;
		break;
	case UART_LCR:
		s->lcr = val;
		break;
	case UART_MCR:
		s->mcr = val & 0x1f;
		break;
	case UART_SCR:
		s->scr = val;
		break;
	}
	pthread_mutex_unlock(&s->lock);
}

void serial_tail(struct serial *s, char *buf, size_t size)
{
	size_t total, skip, n = 0;
	unsigned start;

	if (size == 0)
		return;
	pthread_mutex_lock(&s->lock);
	total = s->tail_full ? SERIAL_TAIL_SIZE : s->tail_pos;
	start = s->tail_full ? s->tail_pos : 0;
	skip = total > size - 1 ? total - (size - 1) : 0; /* keep the newest bytes */
	for (size_t i = skip; i < total; i++)
		buf[n++] = s->tail[(start + i) % SERIAL_TAIL_SIZE];
	buf[n] = '\0';
	pthread_mutex_unlock(&s->lock);
}

void serial_flush(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	flush_line(s);
	pthread_mutex_unlock(&s->lock);
}
