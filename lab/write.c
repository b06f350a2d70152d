/* SPDX-License-Identifier: MIT */
/*
 * write.c — écrit un message dans un segment de mémoire partagée POSIX.
 *
 * Usage : ./write [NOM]      (NOM vaut /posix_shm par défaut)
 *
 * Étapes : shm_open (créer ou ouvrir le segment), ftruncate (fixer sa
 * taille), mmap (le voir comme de la mémoire), close, écrire, munmap.
 * Le segment reste en place après la fin du programme : c'est un fichier
 * de /dev/shm, que ./read (ou cat) peut lire ensuite.
 */
#include <errno.h>
#include <fcntl.h>    /* O_CREAT, O_RDWR, O_TRUNC */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h> /* shm_open, mmap, munmap */
#include <unistd.h>   /* ftruncate, close */

/*
 * Nom du segment : un seul « / », au début. Sous Linux, le segment
 * apparaît comme le fichier /dev/shm/posix_shm (un système de fichiers
 * tmpfs, qui vit en mémoire).
 */
#define NOM_PAR_DEFAUT "/posix_shm"

/*
 * Taille du segment : 64 Kio, soit 16 pages de 4096 octets. mmap travaille
 * par pages ; le message n'occupe que le début de la première. tmpfs
 * n'alloue une page qu'au premier accès à travers une projection, en
 * lecture comme en écriture (ou par write(2)) ; read(2), donc cat, n'alloue
 * rien. ls -l affichera 65536 octets, mais du seulement 4 Kio : la seule
 * page que ce programme touche (voir README.md).
 */
#define TAILLE 65536

/* Le message commence par « Hello » suivi d'une espace : 6 octets, que le
 * « hack » du TP (dd de "HACKED") remplace exactement. */
static const char message[] = "Hello depuis le programme write !";

int main(int argc, char *argv[])
{
	/* Un argument qui commence par « - » est une option mal tapée (--help,
	 * -h...), pas un nom : on ne crée pas de segment « --help ». */
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage : %s [NOM]   (par défaut %s)\n", argv[0], NOM_PAR_DEFAUT);
		return 2;
	}
	const char *nom = argc == 2 ? argv[1] : NOM_PAR_DEFAUT;

	/*
	 * shm_open n'est pas un appel système mais une fonction de la
	 * bibliothèque C : sous Linux, elle appelle openat sur le fichier
	 * /dev/shm/posix_shm, en ajoutant O_NOFOLLOW et O_CLOEXEC
	 * (strace -e trace=openat ./write le montre).
	 *
	 * O_CREAT : crée le segment s'il n'existe pas, sinon l'ouvre.
	 * O_RDWR  : mmap en écriture exige un descripteur ouvert en lecture et
	 *           écriture.
	 * O_TRUNC : si le segment existait, on le vide (taille 0) : on repart
	 *           de zéros, sans les restes d'une exécution précédente.
	 * 0644    : droits du fichier créé, comme pour open() : rw- pour le
	 *           propriétaire, r-- pour le groupe et les autres. Le umask du
	 *           processus retire encore des droits (umask 022 : 0644 reste
	 *           0644 ; umask 077 : 0600). Personne d'autre que le
	 *           propriétaire (et root) ne peut donc écrire dans le segment...
	 *           mais eux le peuvent, avec n'importe quel outil : voir le hack.
	 */
	int fd = shm_open(nom, O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd == -1) {
		fprintf(stderr, "write: shm_open(\"%s\") : %s\n", nom, strerror(errno));
		return 1;
	}

	/* Un segment neuf a une taille de 0 : on lui donne sa taille. Les
	 * octets ajoutés valent 0 et ne coûtent rien : ce sont des « trous »,
	 * sans mémoire derrière, tant que personne ne les touche. */
	if (ftruncate(fd, TAILLE) == -1) {
		fprintf(stderr, "write: ftruncate(%s, %d) : %s\n", nom, TAILLE, strerror(errno));
		close(fd);
		return 1;
	}

	/*
	 * On projette le segment dans notre espace d'adressage. MAP_SHARED :
	 * nos écritures vont dans le segment lui-même, donc tout processus qui
	 * le projette (ou qui lit le fichier) les voit. NULL : le noyau choisit
	 * l'adresse.
	 */
	char *mem = mmap(NULL, TAILLE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "write: mmap(%s) : %s\n", nom, strerror(errno));
		close(fd);
		return 1;
	}

	/* La projection reste valable sans le descripteur : on le ferme tout
	 * de suite. */
	if (close(fd) == -1) {
		fprintf(stderr, "write: close : %s\n", strerror(errno));
		return 1;
	}

	/* Une simple copie en mémoire : ni write(), ni appel système. Le premier
	 * accès à la page provoque une faute de page : c'est là que le noyau
	 * alloue la page (remplie de zéros) dans tmpfs. On copie aussi l'octet
	 * NUL final, pour que le lecteur sache où s'arrête le texte. */
	memcpy(mem, message, sizeof(message));
	printf("write: %zu octets écrits dans %s (taille %d) : \"%s\"\n",
	       sizeof(message), nom, TAILLE, message);

	/* On retire la projection. Le segment, lui, existe toujours : seul
	 * shm_unlink (ou ./read --unlink, ou rm /dev/shm/...) le supprime. */
	if (munmap(mem, TAILLE) == -1) {
		fprintf(stderr, "write: munmap : %s\n", strerror(errno));
		return 1;
	}
	/* La ligne n'est vraiment écrite qu'ici si stdout n'est pas un
	 * terminal (tampon) : on vérifie que l'écriture a réussi. */
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "write: écriture sur la sortie standard : %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
