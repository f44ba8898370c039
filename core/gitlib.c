#include "core/gitlib.h"

#include <git2.h>
#include <pthread.h>

static pthread_once_t git_once = PTHREAD_ONCE_INIT;

static void git_init_once(void)
{
	git_libgit2_init();
}

void ln_git_init(void)
{
	pthread_once(&git_once, git_init_once);
}
