/* SPDX-License-Identifier: MIT */
/*
 * read-write.c — mémoire partagée anonyme entre un processus et son fils.
 *
 * Usage : ./read-write
 *
 * Ici, pas de shm_open ni de nom dans /dev/shm : mmap seul crée une zone
 * de mémoire « anonyme » (MAP_ANONYMOUS, sans fichier). Avec MAP_SHARED,
 * cette zone reste partagée après fork() : le père et le fils voient les
 * mêmes pages. Elle disparaît avec le dernier processus qui la projette
 * (rien n'est persistant) et seuls les descendants du processus qui l'a
 * créée peuvent y accéder (ils en héritent par fork).
 *
 * Le fils écrit un message, le père l'attend puis le lit. Pour que le père
 * sache quand le message est prêt, la zone partagée contient aussi un mutex
 * et une variable de condition pthread, configurés PTHREAD_PROCESS_SHARED
 * pour fonctionner entre processus (et pas seulement entre threads).
 *
 * Le contraste : le fils écrit aussi le message dans une zone MAP_PRIVATE.
 * Celle-là, le père ne la voit pas changer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h> /* mmap, munmap */
#include <sys/wait.h> /* waitpid */
#include <unistd.h>   /* fork, getpid */

#define INITIAL "(vide)"
#define MESSAGE "Bonjour du fils !"

/* Ce que père et fils partagent : les outils de synchronisation sont dans
 * la mémoire partagée elle-même, sinon chacun aurait les siens. */
struct partage {
	pthread_mutex_t verrou; /* protège pret et message */
	pthread_cond_t cond;    /* signalée quand pret passe à 1 */
	int pret;               /* 1 quand le fils a écrit son message */
	char message[64];
};

/* Les fonctions pthread ne positionnent pas errno : elles renvoient le
 * code d'erreur (0 si tout va bien). */
static void verifier(int err, const char *quoi)
{
	if (err != 0) {
		fprintf(stderr, "read-write: %s : %s\n", quoi, strerror(err));
		exit(1);
	}
}

/* Les appels système (mmap, fork, waitpid, munmap) renvoient -1 (ou
 * MAP_FAILED) et laissent le code d'erreur dans errno. */
static void echec(const char *quoi)
{
	fprintf(stderr, "read-write: %s : %s\n", quoi, strerror(errno));
	exit(1);
}

static void *projeter(int visibilite, const char *quoi)
{
	/* fd = -1 et décalage 0 : MAP_ANONYMOUS n'a pas de fichier derrière ;
	 * la zone est remplie de zéros. */
	void *p = mmap(NULL, sizeof(struct partage), PROT_READ | PROT_WRITE,
		       visibilite | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		echec(quoi);
	return p;
}

/* Le fils : écrit dans les deux zones, puis prévient le père. */
static void fils(struct partage *partagee, struct partage *privee)
{
	/* Zone privée : depuis fork(), le fils a sa propre copie de ces pages
	 * (copie sur écriture) ; cette écriture ne touche que sa copie. */
	strcpy(privee->message, MESSAGE);

	verifier(pthread_mutex_lock(&partagee->verrou), "pthread_mutex_lock");
	strcpy(partagee->message, MESSAGE);
	partagee->pret = 1;
	printf("[fils  %d] écrit \"%s\" dans les deux zones, puis réveille le père\n",
	       (int)getpid(), MESSAGE);
	fflush(stdout);
	verifier(pthread_cond_signal(&partagee->cond), "pthread_cond_signal");
	verifier(pthread_mutex_unlock(&partagee->verrou), "pthread_mutex_unlock");
	exit(0);
}

int main(void)
{
	/* Les deux zones sont créées AVANT fork() : le fils en hérite.
	 * Seule différence : MAP_SHARED ou MAP_PRIVATE. (Une variable
	 * ordinaire, globale ou locale, se comporterait comme la zone privée.) */
	struct partage *partagee = projeter(MAP_SHARED, "mmap(MAP_SHARED | MAP_ANONYMOUS)");
	struct partage *privee = projeter(MAP_PRIVATE, "mmap(MAP_PRIVATE | MAP_ANONYMOUS)");
	strcpy(partagee->message, INITIAL);
	strcpy(privee->message, INITIAL);

	/* Par défaut un mutex pthread ne sert qu'entre les threads d'un même
	 * processus ; PTHREAD_PROCESS_SHARED permet de l'utiliser depuis
	 * plusieurs processus, pourvu qu'il soit en mémoire partagée. */
	pthread_mutexattr_t ma;
	verifier(pthread_mutexattr_init(&ma), "pthread_mutexattr_init");
	verifier(pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED), "pthread_mutexattr_setpshared");
	verifier(pthread_mutex_init(&partagee->verrou, &ma), "pthread_mutex_init");
	verifier(pthread_mutexattr_destroy(&ma), "pthread_mutexattr_destroy");

	pthread_condattr_t ca;
	verifier(pthread_condattr_init(&ca), "pthread_condattr_init");
	verifier(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED), "pthread_condattr_setpshared");
	verifier(pthread_cond_init(&partagee->cond, &ca), "pthread_cond_init");
	verifier(pthread_condattr_destroy(&ca), "pthread_condattr_destroy");

	printf("read-write: deux zones anonymes contenant \"%s\", créées avant fork() :\n"
	       "  - une zone partagée (MAP_SHARED | MAP_ANONYMOUS) avec un mutex et une condition\n"
	       "    PTHREAD_PROCESS_SHARED ;\n"
	       "  - une zone privée (MAP_PRIVATE | MAP_ANONYMOUS).\n"
	       "[père  %d] attend que le fils écrive (pthread_cond_wait, jamais sleep)\n",
	       INITIAL, (int)getpid());
	/* Vider le tampon de stdout avant fork(), sinon le fils en hérite et
	 * ces lignes seraient écrites deux fois. */
	fflush(stdout);

	pid_t pid = fork();
	if (pid == -1)
		echec("fork");
	if (pid == 0)
		fils(partagee, privee); /* ne revient pas */

	/* Attendre « pret == 1 ». pthread_cond_wait relâche le mutex pendant
	 * l'attente et le reprend au réveil ; la boucle protège des réveils
	 * sans raison, et du cas où le fils a fini avant qu'on attende. */
	verifier(pthread_mutex_lock(&partagee->verrou), "pthread_mutex_lock");
	while (!partagee->pret)
		verifier(pthread_cond_wait(&partagee->cond, &partagee->verrou), "pthread_cond_wait");
	printf("[père  %d] réveillé ; il lit les deux zones :\n", (int)getpid());
	printf("  zone partagée (MAP_SHARED)  : \"%s\" -> VU : père et fils utilisent les mêmes pages\n",
	       partagee->message);
	verifier(pthread_mutex_unlock(&partagee->verrou), "pthread_mutex_unlock");
	printf("  zone privée   (MAP_PRIVATE) : \"%s\" -> PAS VU : fork() a donné au fils sa propre\n"
	       "                                copie de ces pages (copie sur écriture)\n",
	       privee->message);

	/* Attendre la fin du fils avant de détruire ce qu'il utilise. */
	int statut;
	if (waitpid(pid, &statut, 0) == -1)
		echec("waitpid");
	if (!WIFEXITED(statut) || WEXITSTATUS(statut) != 0) {
		fprintf(stderr, "read-write: le fils a échoué\n");
		return 1;
	}
	verifier(pthread_cond_destroy(&partagee->cond), "pthread_cond_destroy");
	verifier(pthread_mutex_destroy(&partagee->verrou), "pthread_mutex_destroy");
	if (munmap(partagee, sizeof(*partagee)) == -1 || munmap(privee, sizeof(*privee)) == -1)
		echec("munmap");
	printf("[père  %d] fils terminé ; mutex et condition détruits, zones libérées\n", (int)getpid());
	return 0;
}
