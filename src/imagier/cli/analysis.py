"""The commands of similarity, clustering and suggestions."""

from __future__ import annotations

import click

from ..project import Project
from .base import emit, json_option, command, main

_vector_type_option = click.option("--vector-type", help="the vector type to use (default: the project's default)")


def _suggested_images(command):
    """The arguments of suggest-accept and suggest-reject: the group and the suggested images."""
    command = click.option("--id", "ids", multiple=True, type=int, required=True,
                           help="a suggested image (repeatable)")(command)
    return click.argument("property_name")(click.argument("value")(command))


def _scored(results: list[dict]) -> tuple[list[dict], str]:
    """Scored images as the JSON documents' items and as text lines."""
    items = [{"path": r["path"], "score": r["score"], "similarity": r["similarity"], "rank": r["rank"], "id": r["id"],
              **{k: r[k] for k in ("copy", "relation", "edited") if k in r}} for r in results]
    if not results:
        return items, "no images"
    return items, "\n".join(["score\tsimilarity\tpath"] +
                            [f"{r['score']:.4f}\t{r['similarity']:.4f}\t{r['path']}"
                             + (f"\t(copy: {r['relation']})" if r.get("copy") else "") for r in results])


@command(main)
@click.argument("query", metavar="PATH_OR_ID")
@click.option("--top", type=click.IntRange(1), default=20, show_default=True, help="how many images")
@click.option("--min-score", type=click.FloatRange(0, 1), help="leave out images with a lower (calibrated) score")
@json_option("filter")
@_vector_type_option
def similar(project: Project, as_json: bool, query, top, min_score, filter, vector_type):
    """The images most similar to PATH_OR_ID (an image of the project, or an image file outside it),
    best first, the image itself left out. The score is calibrated: 0.99 is more similar than 99% of
    the pairs of images in this project."""
    items, text = _scored(project.similar(query, top_k=top, min_score=min_score, filter=filter,
                                          vector_type=vector_type))
    emit(as_json, items, text)


@command(main)
@click.option("--similarity", type=click.FloatRange(-1, 1), help="explain this raw similarity: its calibrated score")
@_vector_type_option
def calibration(project: Project, as_json: bool, similarity, vector_type):
    """How similarities are distributed among pairs of images of PROJECT: the numbers behind every
    calibrated score; with --similarity, what that raw similarity means here."""
    if similarity is not None:
        explained = project.explain_similarity(similarity, vector_type)
        emit(as_json, explained, f"score {explained['score']:.4f}: {explained['explanation']}")
        return
    found = project.calibration(vector_type)
    percentiles = ", ".join(f"{k} {v:.3f}" for k, v in found.items() if k[:1] == "p" and k[1:2].isdigit() and v is not None)
    sampled = "every pair" if found["all_pairs"] else "a random sample"
    emit(as_json, found, f"{found['vector_type']}: {found['pairs']} pairs ({sampled}); similarity "
                          f"mean {found['mean'] or 0:.3f}, {percentiles or 'no pairs'}")


@command(main)
@click.option("--k", type=click.IntRange(1), help="the number of clusters (kmeans; default: chosen automatically)")
@click.option("--method", type=click.Choice(["kmeans", "hdbscan"]), default="kmeans", show_default=True)
@click.option("--min-cluster-size", type=click.IntRange(2), help="hdbscan: the smallest cluster")
@json_option("filter")
@click.option("--id", "ids", multiple=True, type=int, help="cluster only these images (repeatable)")
@click.option("--save-as", help="save the clusters as tags of this tag property (one undoable operation)")
@click.option("--parent", help="with --save-as: sub-cluster the images of this tag, whose children the new tags are")
@click.option("--text-weight", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="weigh the words read in the images (imagier ocr) against the pictures: 0 pictures only, 1 words "
                   "only (images without text still cluster by picture)")
@_vector_type_option
def cluster(project: Project, as_json: bool, k, method, min_cluster_size, filter, ids, save_as, parent, text_weight,
            vector_type):
    """Cluster the images of PROJECT (or of --filter, --id, --parent) by similarity; every image is in
    exactly one cluster, nearest to its centre first. The score is the cluster's cohesion."""
    clusters = project.cluster(filter, ids=list(ids) or None, k=k, method=method, vector_type=vector_type,
                               save_as=save_as, parent=parent, min_cluster_size=min_cluster_size,
                               text_weight=text_weight)
    items = [{"cluster": c["cluster"], "score": c["score"], "paths": c["paths"], "size": c["size"],
              **({"tag": c["tag"]} if "tag" in c else {}), **({"noise": True} if c["noise"] else {})}
             for c in clusters]
    text = "\n".join(f"cluster {c['cluster'] if not c['noise'] else '(unclustered)'}: {c['size']} images, "
                     f"cohesion {c['score']:.3f}" + (f", saved as {c['tag']}" if "tag" in c else "")
                     for c in clusters)
    emit(as_json, items, text)


@command(main)
@click.argument("property_name")
@click.argument("value")
@click.option("--top", type=click.IntRange(1), default=20, show_default=True, help="how many images")
@json_option("filter")
@_vector_type_option
def suggest(project: Project, as_json: bool, property_name, value, top, filter, vector_type):
    """Images that probably belong to the group PROPERTY_NAME = VALUE but are not in it, best first
    (rejected ones are never proposed again)."""
    items, text = _scored(project.suggestions(property_name, value, top_k=top, filter=filter,
                                              vector_type=vector_type))
    emit(as_json, items, text)


@command(main, "suggest-accept")
@_suggested_images
def suggest_accept(project: Project, as_json: bool, property_name, value, ids):
    """Give the suggested images --id the group's value VALUE of PROPERTY_NAME (undoable)."""
    count = project.accept_suggestions(property_name, value, list(ids))
    emit(as_json, {"property": property_name, "value": value, "accepted": count}, f"accepted {count} images")


@command(main, "suggest-reject")
@_suggested_images
def suggest_reject(project: Project, as_json: bool, property_name, value, ids):
    """Remember that the images --id do not belong to the group PROPERTY_NAME = VALUE."""
    count = project.reject_suggestions(property_name, value, list(ids))
    emit(as_json, {"property": property_name, "value": value, "rejected": count}, f"rejected {count} images")
