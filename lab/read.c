/* SPDX-License-Identifier: MIT */
/*
 * read.c — lit le message d'un segment de mémoire partagée POSIX.
 *
 * Usage : ./read [--unlink] [NOM]     (NOM vaut /posix_shm par défaut)
 *
 * Étapes : shm_open (ouvrir le segment existant, en lecture seule), fstat
 * (connaître sa taille), mmap (le voir comme de la mémoire), afficher le
 * texte, munmap. Le segment reste en place, pour pouvoir refaire ./read
 * (c'est ce que fait le TP) ; --unlink le supprime après la lecture.
 *
 * Le lecteur ne fait pas confiance au contenu : n'importe qui pouvant
 * écrire le fichier /dev/shm/... a pu le modifier (voir le hack). Il ne lit
 * donc jamais au-delà de la taille du segment, même sans octet NUL.
 */
#include <errno.h>
#include <fcntl.h>    /* O_RDONLY */
#include <stdio.h>
#include <string.h>   /* strnlen, strcmp, strerror */
#include <sys/mman.h> /* shm_open, shm_unlink, mmap, munmap */
#include <sys/stat.h> /* fstat */
#include <unistd.h>   /* close */

#define NOM_PAR_DEFAUT "/posix_shm"

static int usage(const char *prog)
{
	fprintf(stderr, "usage : %s [--unlink] [NOM]   (par défaut %s)\n", prog, NOM_PAR_DEFAUT);
	return 2;
}

/*
 * Projette les @taille octets du segment ouvert @fd et affiche le texte
 * qu'ils contiennent : jusqu'au premier octet NUL, ou jusqu'à la fin du
 * segment s'il n'y en a pas. Renvoie 0, ou 1 en cas d'erreur.
 */
static int afficher(const char *nom, int fd, size_t taille)
{
	/* PROT_READ : on ne peut que lire (le descripteur est en O_RDONLY,
	 * PROT_WRITE serait refusé). MAP_SHARED : on voit le segment lui-même,
	 * y compris ce qu'un autre processus y écrirait pendant ce temps.
	 * Lire à travers la projection n'est pas gratuit : une page encore
	 * jamais touchée (un « trou » laissé par ftruncate) est allouée par
	 * tmpfs au premier accès, même en lecture. read(2) (cat) n'alloue rien. */
	char *mem = mmap(NULL, taille, PROT_READ, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "read: mmap(%s) : %s\n", nom, strerror(errno));
		return 1;
	}

	/*
	 * strlen() chercherait le NUL au-delà de la fin si le segment n'en
	 * contient pas ; strnlen() s'arrête à @taille au plus. (Si quelqu'un
	 * raccourcissait le segment pendant qu'on le lit, l'accès aux pages
	 * disparues provoquerait SIGBUS : la bibliothèque pshm sait s'en
	 * protéger, ce programme d'exemple non.)
	 */
	size_t longueur = strnlen(mem, taille);
	fwrite(mem, 1, longueur, stdout);
	putchar('\n');
	if (longueur == taille)
		fprintf(stderr, "read: pas d'octet NUL dans le segment : affiché jusqu'à sa fin (%zu octets)\n",
			taille);

	if (munmap(mem, taille) == -1) {
		fprintf(stderr, "read: munmap : %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	const char *nom = NOM_PAR_DEFAUT;
	int supprimer = 0, noms = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--unlink") == 0)
			supprimer = 1;
		else if (argv[i][0] == '-' || noms++ > 0)
			return usage(argv[0]);
		else
			nom = argv[i];
	}

	/* shm_open, fonction de la bibliothèque C, fait ici
	 * openat("/dev/shm/posix_shm", O_RDONLY | O_NOFOLLOW | O_CLOEXEC).
	 * Sans O_CREAT : on veut lire un segment existant, pas en créer un
	 * vide. Sans O_TRUNC ni ftruncate : lire ne doit rien modifier. */
	int fd = shm_open(nom, O_RDONLY, 0);
	if (fd == -1) {
		if (errno == ENOENT)
			fprintf(stderr, "read: le segment %s n'existe pas (%s) : lancez d'abord ./write\n",
				nom, strerror(errno));
		else
			fprintf(stderr, "read: shm_open(\"%s\") : %s\n", nom, strerror(errno));
		return 1;
	}

	/* La taille du segment est celle du fichier : fstat la donne. On ne
	 * suppose pas que c'est celle que write a choisie : n'importe qui a pu
	 * créer ou raccourcir ce fichier. */
	struct stat st;
	if (fstat(fd, &st) == -1) {
		fprintf(stderr, "read: fstat(%s) : %s\n", nom, strerror(errno));
		close(fd);
		return 1;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "read: %s n'est pas un segment (pas un fichier ordinaire)\n", nom);
		close(fd);
		return 1;
	}

	/* mmap refuse une longueur de 0 (EINVAL) : un segment vide n'a rien à
	 * afficher, on ne le projette pas. */
	int erreur = 0;
	if (st.st_size == 0)
		fprintf(stderr, "read: le segment %s est vide (0 octet)\n", nom);
	else
		erreur = afficher(nom, fd, (size_t)st.st_size);

	if (close(fd) == -1) {
		fprintf(stderr, "read: close : %s\n", strerror(errno));
		erreur = 1;
	}
	/* Le message n'est vraiment écrit qu'ici (stdout a un tampon) :
	 * on vérifie que l'écriture a réussi. */
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "read: écriture sur la sortie standard : %s\n", strerror(errno));
		erreur = 1;
	}

	/* shm_unlink (de la bibliothèque C, comme shm_open : un unlink du
	 * fichier de /dev/shm) retire le nom. La mémoire est libérée quand plus
	 * aucun processus ne projette le segment ni ne le garde ouvert. */
	if (supprimer && !erreur) {
		if (shm_unlink(nom) == -1) {
			fprintf(stderr, "read: shm_unlink(%s) : %s\n", nom, strerror(errno));
			return 1;
		}
		fprintf(stderr, "read: segment %s supprimé\n", nom);
	}
	return erreur;
}
