"""DCGAN (Radford et al. 2016, the GAN chapters): a generator of transposed convolutions and a convolutional critic.

Scaled for kestrel's small images: two stride-2 stages each way, so sides must divide by 4. The
generator ends in a sigmoid, in [0, 1], the range of the "unit" preprocessing the real images
arrive in; the discriminator returns one logit. No batch normalisation: the Estimator engine calls
these Keras models inside TF-GAN's graph, where Keras would not update BN's moving statistics, and
a generator that samples differently from how it trained would be a different model in the export;
layer normalisation (no moving statistics) takes its place. Layers are named (checkpoint keys). ``Dcgan`` pairs the two for the Keras engine: its own
``train_step`` with the losses TF-GAN's GANEstimator uses, so both engines train the same game.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_gan as tfgan

from estimators.models.spec import ModelSpec

NOISE_DIMS = 32  # the length of the generator's noise vector
NOISE_NAME = "noise"  # the generator's input, and the export's
GENERATOR, DISCRIMINATOR = "generator", "discriminator"
BETA_1 = 0.5  # Adam's first moment, as DCGAN trains


def build_generator(spec: ModelSpec) -> tf.keras.Model:
    """Noise [batch, NOISE_DIMS] -> images [batch, H, W, C] in [0, 1]."""
    layers = tf.keras.layers
    height, width, channels = spec.image.shape
    noise = tf.keras.Input(shape=(NOISE_DIMS,), name=NOISE_NAME)
    x = layers.Dense((height // 4) * (width // 4) * 128, name="g_project")(noise)
    x = layers.Reshape((height // 4, width // 4, 128), name="g_reshape")(x)
    x = layers.LayerNormalization(name="g_project_norm")(x)
    x = layers.LeakyReLU(0.2, name="g_project_lrelu")(x)
    x = layers.Conv2DTranspose(64, 4, strides=2, padding="same", name="g_up1")(x)
    x = layers.LayerNormalization(name="g_up1_norm")(x)
    x = layers.LeakyReLU(0.2, name="g_up1_lrelu")(x)
    x = layers.Conv2DTranspose(32, 4, strides=2, padding="same", name="g_up2")(x)
    x = layers.LayerNormalization(name="g_up2_norm")(x)
    x = layers.LeakyReLU(0.2, name="g_up2_lrelu")(x)
    x = layers.Conv2D(channels, 3, padding="same", name="g_out")(x)
    images = layers.Activation("sigmoid", dtype="float32", name="images")(x)
    return tf.keras.Model(noise, images, name=GENERATOR)


class MinibatchStddev(tf.keras.layers.Layer):
    """One more feature map: the features' standard deviation across the batch, averaged (Karras et al. 2018).

    A generator that draws one image for every noise gives batches of no spread; this lets the
    discriminator see it, which keeps a GAN this small from collapsing to a single digit.
    """

    def call(self, x: tf.Tensor) -> tf.Tensor:
        spread = tf.reduce_mean(tf.math.reduce_std(x, axis=0))
        return tf.concat([x, tf.fill(tf.concat([tf.shape(x)[:-1], [1]], 0), spread)], axis=-1)


def build_discriminator(spec: ModelSpec) -> tf.keras.Model:
    """Images [batch, H, W, C] -> one logit per image: real (high) or generated (low)."""
    layers = tf.keras.layers
    images = tf.keras.Input(shape=spec.image.shape, name="images")
    x = layers.Conv2D(32, 4, strides=2, padding="same", name="d_conv1")(images)
    x = layers.LeakyReLU(0.2, name="d_conv1_lrelu")(x)
    x = layers.Conv2D(64, 4, strides=2, padding="same", name="d_conv2")(x)
    x = layers.LeakyReLU(0.2, name="d_conv2_lrelu")(x)
    x = MinibatchStddev(name="d_batch_stddev")(x)
    x = layers.Flatten(name="d_flatten")(x)
    logits = layers.Dense(1, dtype="float32", name="d_logit")(x)
    return tf.keras.Model(images, logits, name=DISCRIMINATOR)


def generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """The non-saturating generator loss (TF-GAN's ``modified_generator_loss``)."""
    return tfgan.losses.wargs.modified_generator_loss(fake_logits)


def discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """Cross-entropy on real and generated images, real labels smoothed to 0.75 (TF-GAN's default)."""
    return tfgan.losses.wargs.modified_discriminator_loss(real_logits, fake_logits)


class Dcgan(tf.keras.Model):
    """The generator and discriminator trained together: one step of each per batch, two optimisers.

    ``optimizer`` (compile's) is the generator's, so ``optimizer.iterations`` counts steps as the
    Estimator's global step does; ``d_optimizer`` the discriminator's.
    """

    def __init__(self, spec: ModelSpec):
        super().__init__(name="dcgan")
        self.generator = build_generator(spec)
        self.discriminator = build_discriminator(spec)
        self.input_name = spec.input_name
        self.d_optimizer = tf.keras.optimizers.legacy.Adam(spec.learning_rate, beta_1=BETA_1)
        self.compile(optimizer=tf.keras.optimizers.legacy.Adam(spec.learning_rate, beta_1=BETA_1))

    def call(self, noise: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.generator(noise, training=training)

    def train_step(self, data) -> dict[str, tf.Tensor]:
        features = data[0] if isinstance(data, tuple) else data
        real = features[self.input_name]
        noise = tf.random.normal([tf.shape(real)[0], NOISE_DIMS])
        # Discriminator first, then the generator against the updated discriminator, as TF-GAN's
        # sequential train hooks run them.
        with tf.GradientTape() as tape:
            fake = self.generator(noise, training=True)
            d_loss = discriminator_loss(
                self.discriminator(real, training=True), self.discriminator(fake, training=True)
            )
        grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables, strict=True))
        with tf.GradientTape() as tape:
            g_loss = generator_loss(self.discriminator(self.generator(noise, training=True), training=True))
        grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.generator.trainable_variables, strict=True))
        return {"loss": g_loss + d_loss, "generator_loss": g_loss, "discriminator_loss": d_loss}


def build_dcgan(spec: ModelSpec) -> Dcgan:
    return Dcgan(spec)
